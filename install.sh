#!/usr/bin/env bash
# Install, upgrade or remove cpa-usage as the systemd service cpa-usage.service.
#
#   sudo ./install.sh [--version V] [--pyz PATH] [--user NAME] [--dir DIR] [--python PATH] [--no-start]
#   sudo ./install.sh --uninstall [--purge] [--user NAME] [--dir DIR]
#
# Lays out  DIR/releases/V/cpa-usage.pyz   one folder per version (kept: roll back with the link)
#           DIR/current -> releases/V       what the service runs, switched in one step
#           DIR/.env  DIR/data/  DIR/logs/   created once (.env from .env.example, mode 0600,
#                                           with login on and a generated password, printed
#                                           once) and kept as they are by every upgrade
#           /etc/systemd/system/cpa-usage.service   from cpa-usage.service
# with DIR = /home/cliproxy/cpa-usage by default, enables the service and restarts it.
# An upgrade that the new version's configuration check rejects (or whose .env systemd
# would read otherwise than cpa-usage does) changes nothing; a new .env lacks
# CPA_MANAGEMENT_KEY, so a first install enables the service without starting it.
#
#   --version V    release name (default: what `python3 PYZ --version` prints)
#   --pyz PATH     the zipapp (default: dist/cpa-usage.pyz, built with build.py when missing)
#   --user NAME    user of the service (default cliproxy, the user CPA's installer creates;
#                  a system user with home /home/NAME is created when it does not exist)
#   --dir DIR      install folder (default: the user's home + /cpa-usage)
#   --python PATH  Python 3.10 or later that runs the service (default /usr/bin/python3)
#   --no-start     install and enable, but do not (re)start the service
#   --uninstall    stop, disable and remove the service and the releases; keep .env, data/, logs/
#   --purge        --uninstall, and remove DIR with .env, data/ and logs/ (the user stays)
#   --root ROOT    work under ROOT as if it were / (also DESTDIR=ROOT), for packaging and tests:
#                  the user is read from ROOT/etc/passwd and never created, files are given to
#                  the user only when run as root, and systemctl is not called
set -euo pipefail
umask 022

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
unit_name=cpa-usage.service
pyz=""
version=""
user=cliproxy
dir=""
python=/usr/bin/python3
root=${DESTDIR:-}
action=install
purge=no
start=yes

die() { echo "install.sh: $*" >&2; exit 1; }
warn() { echo "install.sh: warning: $*" >&2; }
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }
value_of() { case "${2:-}" in ""|-*) die "$1 needs a value (see --help)" ;; esac; }

while [ $# -gt 0 ]; do
  case "$1" in
    --version) value_of "$@"; version=$2; shift 2 ;;
    --pyz) value_of "$@"; pyz=$2; shift 2 ;;
    --user) value_of "$@"; user=$2; shift 2 ;;
    --dir) value_of "$@"; dir=$2; shift 2 ;;
    --python) value_of "$@"; python=$2; shift 2 ;;
    --root) value_of "$@"; root=$2; shift 2 ;;
    --no-start) start=no; shift ;;
    --uninstall) action=uninstall; shift ;;
    --purge) action=uninstall; purge=yes; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done

# Paths end up in the unit file and in sed expressions: plain characters only.
plain_path() {
  [[ $2 =~ ^/[A-Za-z0-9._/+@-]*$ ]] || die "$1 '$2' must be an absolute path of letters, digits and ._/+@-"
  case "$2/" in */./*|*/../*|*//*) die "$1 '$2' must not contain ., .. or //" ;; esac
}
[[ $user =~ ^[A-Za-z_][A-Za-z0-9_.-]*$ ]] || die "--user '$user' is not a valid user name"
plain_path --python "$python"
if [ -n "$root" ]; then
  mkdir -p -- "$root"
  root=$(cd -- "$root" && pwd -P)
  [ "$root" != / ] || root=""
fi
[ -n "$root" ] || [ "$(id -u)" = 0 ] || die "run me as root (sudo ./install.sh), or pass --root DIR"

# The user: from the system, or from ROOT/etc/passwd under --root.
uid="" gid="" home=""
lookup_user() {
  local entry=""
  if [ -n "$root" ]; then
    if [ -f "$root/etc/passwd" ]; then
      entry=$(awk -F: -v name="$user" '$1 == name { print; exit }' "$root/etc/passwd")
    fi
  else
    entry=$(getent passwd "$user" || true)
  fi
  [ -n "$entry" ] || return 1
  IFS=: read -r _ _ uid gid _ home _ <<<"$entry"
}
create_user=(useradd --system --user-group --create-home --home-dir "/home/$user" --shell /usr/sbin/nologin "$user")
if ! lookup_user; then
  home=/home/$user
  if [ "$action" = install ]; then
    if [ -n "$root" ]; then
      echo "--root: user $user is not in $root/etc/passwd; not creating it (would run: ${create_user[*]})"
    else
      echo "creating system user $user"
      "${create_user[@]}"
      lookup_user || die "user $user was not created"
    fi
  fi
fi
dir=${dir:-$home/cpa-usage}
while [ "${dir%/}" != "$dir" ] && [ "$dir" != / ]; do dir=${dir%/}; done
plain_path --dir "$dir"
target=$root$dir
unit_dir=$root/etc/systemd/system
unit=$unit_dir/$unit_name

owner=""
if [ -n "$uid" ] && [ "$(id -u)" = 0 ]; then owner=$uid:$gid; fi
give() { [ -z "$owner" ] || chown -h "$owner" "$@"; }
make_dir() { install -d -m "$2" "$1"; give "$1"; }

systemd_running() { [ -z "$root" ] && [ -d /run/systemd/system ]; }

install_service() {
  if [ -z "$pyz" ]; then
    pyz=$here/dist/cpa-usage.pyz
    if [ ! -f "$pyz" ]; then
      echo "building $pyz"
      "$python" "$here/build.py" --output "$pyz"
    fi
  fi
  [ -f "$pyz" ] || die "--pyz $pyz: no such file"
  if [ ! -f "$here/cpa-usage.service" ] || [ ! -f "$here/.env.example" ]; then
    die "cpa-usage.service and .env.example must be next to install.sh"
  fi
  [ -x "$python" ] || die "--python $python: not found"
  "$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' || die "$python is older than Python 3.10"
  local own_version
  own_version=$("$python" -I "$pyz" --version 2>/dev/null) || die "$pyz does not run with $python"
  case "$own_version" in
    "cpa-usage "?*) own_version=${own_version#cpa-usage } ;;
    *) die "$pyz is not a cpa-usage zipapp (its --version printed '$own_version')" ;;
  esac
  if [ -z "$version" ]; then
    version=$own_version
  elif [ "$version" != "$own_version" ]; then
    echo "note: installing the zipapp of cpa-usage $own_version as release $version"
  fi
  [[ $version =~ ^[A-Za-z0-9][A-Za-z0-9._+-]*$ ]] || die "--version '$version' must be letters, digits and ._+-"

  local release=$target/releases/$version previous="" new_release=no fresh_env=no
  if [ -L "$target/current" ]; then
    previous=$(readlink "$target/current")
    previous=${previous#releases/}
  fi
  [ -d "$release" ] || new_release=yes
  mkdir -p -- "$(dirname "$target")"
  make_dir "$target" 0750
  make_dir "$target/releases" 0755
  make_dir "$release" 0755
  cp -- "$pyz" "$release/.cpa-usage.pyz.new"
  chmod 0644 "$release/.cpa-usage.pyz.new"
  give "$release/.cpa-usage.pyz.new"
  mv -f -- "$release/.cpa-usage.pyz.new" "$release/cpa-usage.pyz"
  [ -d "$target/data" ] || make_dir "$target/data" 0700
  [ -d "$target/logs" ] || make_dir "$target/logs" 0750
  local password=""
  if [ ! -e "$target/.env" ]; then
    # Login on from the first start: 24 characters of [A-Za-z0-9_-], plain for both readers of .env.
    password=$("$python" -c 'import secrets; print(secrets.token_urlsafe(18))')
    (umask 077 && sed -e "s|^SQLITE_PATH=.*|SQLITE_PATH=$dir/data/app.db|" -e "s|^LOG_DIR=.*|LOG_DIR=$dir/logs|" \
      -e "s|^AUTH_ENABLED=.*|AUTH_ENABLED=true|" -e "s|^LOGIN_PASSWORD=.*|LOGIN_PASSWORD=$password|" \
      "$here/.env.example" > "$target/.env.new")
    chmod 0600 "$target/.env.new"
    give "$target/.env.new"
    mv -f -- "$target/.env.new" "$target/.env"
    fresh_env=yes
  fi

  # The new version must accept .env, read as systemd will read it, before the service is
  # switched to it (--systemd: exit 3 names lines systemd reads otherwise than cpa-usage).
  local problem config_ok=yes check=(--check-config)
  if "$python" -I "$release/cpa-usage.pyz" --help 2>/dev/null | grep -q -- '--systemd'; then
    check+=(--systemd)  # a version older than that option is checked as it checks itself
  fi
  problem=$(env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin ENV_FILE="$target/.env" \
            "$python" -I "$release/cpa-usage.pyz" "${check[@]}" 2>&1 >/dev/null) || config_ok=no
  if [ "$config_ok" = no ] && [ "$fresh_env" = no ] && [ -n "$previous" ] && [ "$previous" != "$version" ]; then
    [ "$new_release" = no ] || rm -rf -- "$release"
    die "cpa-usage $version rejects $dir/.env: ${problem:-its configuration check failed}
nothing was changed: $dir/current still points to releases/$previous; fix .env and run install.sh again"
  fi

  ln -sfn "releases/$version" "$target/.current.new"
  give "$target/.current.new"
  mv -fT -- "$target/.current.new" "$target/current"

  mkdir -p -- "$unit_dir"
  sed -e "s|/home/cliproxy/cpa-usage|$dir|g" -e "s|^User=.*|User=$user|" \
      -e "s|^ExecStart=/usr/bin/python3 |ExecStart=$python |" "$here/cpa-usage.service" > "$unit_dir/.$unit_name.new"
  chmod 0644 "$unit_dir/.$unit_name.new"
  mv -f -- "$unit_dir/.$unit_name.new" "$unit"

  if [ -z "$previous" ]; then
    echo "installed cpa-usage $version in $dir (unit: $unit)"
  elif [ "$previous" = "$version" ]; then
    echo "reinstalled cpa-usage $version in $dir (unit: $unit)"
  else
    echo "upgraded cpa-usage $previous -> $version in $dir (unit: $unit); .env and data kept"
  fi
  if [ -n "$password" ]; then
    echo "login is on: the dashboard's password is $password"
    echo "  (shown only now; it is LOGIN_PASSWORD in $dir/.env, readable by root and $user only)"
  fi

  if [ -n "$root" ]; then
    echo "--root: systemctl not called"
  elif ! systemd_running; then
    warn "systemd is not running here: $unit is installed but not enabled or started"
  else
    systemctl daemon-reload
    systemctl enable --quiet "$unit_name"
    if [ "$config_ok" = yes ] && [ "$start" = yes ]; then
      systemctl restart "$unit_name"
      echo "started: systemctl status cpa-usage; journalctl -u cpa-usage -f"
    fi
  fi
  if [ "$config_ok" = no ]; then
    echo "not started: ${problem:-the configuration check failed}"
    echo "next: set CPA_BASE_URL and CPA_MANAGEMENT_KEY in $dir/.env, then: sudo systemctl restart cpa-usage"
  elif [ "$start" = no ]; then
    echo "not restarted (--no-start): sudo systemctl restart cpa-usage"
  fi
}

uninstall_service() {
  if [ "$purge" = yes ]; then
    case "$home/" in "$dir"/*) die "--purge: $dir holds the home of $user; not removing it" ;; esac
    if [ -e "$target" ] && [ ! -e "$target/.env" ] && [ ! -e "$target/releases" ] && [ ! -L "$target/current" ] \
       && [ ! -e "$target/data/app.db" ]; then
      die "--purge: $dir has no .env, releases, current or data/app.db: not a cpa-usage folder; not removing it"
    fi
  fi
  if [ -f "$unit" ]; then
    if systemd_running; then systemctl disable --now --quiet "$unit_name"; fi
    rm -f -- "$unit"
    echo "removed the service ($unit)"
  else
    echo "no service to remove ($unit does not exist)"
  fi
  if systemd_running; then
    systemctl daemon-reload
    systemctl reset-failed "$unit_name" 2>/dev/null || true
  fi
  if [ "$purge" = yes ] && [ -e "$target" ]; then
    rm -rf -- "$target"
    echo "purged $dir (.env, data and logs)"
  elif [ "$purge" = yes ]; then
    echo "nothing to purge: $dir does not exist"
  elif [ -e "$target/releases" ] || [ -L "$target/current" ]; then
    rm -rf -- "$target/releases" "$target/current"
    echo "removed the releases; kept $dir/.env, data/ and logs/ (--purge removes them)"
  else
    echo "no releases to remove in $dir"
  fi
  echo "user $user is kept (CPA runs as it too)"
}

if [ "$action" = install ]; then install_service; else uninstall_service; fi
