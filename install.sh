#!/usr/bin/env bash
# Install or upgrade cpa-usage as a systemd service on the CPA host.
#
#   sudo ./install.sh [--pyz dist/cpa-usage.pyz] [--user cliproxy] [--dir /home/cliproxy/cpa-usage]
#                     [--python /usr/bin/python3] [--no-systemd]
#
# Lays out   <dir>/releases/<version>/cpa-usage.pyz   (one directory per version)
#            <dir>/current -> releases/<version>        (what the service runs)
#            <dir>/.env, <dir>/data/, <dir>/logs/        (kept across upgrades)
# and writes /etc/systemd/system/cpa-usage.service. Safe to run again: an upgrade
# keeps .env and the database. Reuses the `cliproxy` user that CPA's installer
# creates, so both share /home/cliproxy; any other existing user works too.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
pyz="$here/dist/cpa-usage.pyz"
user=cliproxy
dir=""
python=/usr/bin/python3
systemd=yes
unit_dir=/etc/systemd/system

die() { echo "install.sh: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --pyz) pyz=$2; shift 2 ;;
    --user) user=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    --python) python=$2; shift 2 ;;
    --no-systemd) systemd=no; shift ;;
    --unit-dir) unit_dir=$2; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done

id "$user" >/dev/null 2>&1 || die "user '$user' does not exist; install CPA first or pass --user"
home=$(getent passwd "$user" | cut -d: -f6)
dir=${dir:-$home/cpa-usage}
group=$(id -gn "$user")

"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || die "$python is older than Python 3.11"
if [ ! -f "$pyz" ]; then
  echo "building $pyz"
  "$python" "$here/build.py" --output "$pyz"
fi
version=$("$python" -I "$pyz" --version | awk '{print $2}')
[ -n "$version" ] || die "$pyz does not run"

release="$dir/releases/$version"
install -d -o "$user" -g "$group" "$dir" "$dir/releases" "$release" "$dir/data" "$dir/logs"
install -m 0644 -o "$user" -g "$group" "$pyz" "$release/cpa-usage.pyz"
ln -sfn "releases/$version" "$dir/current"
chown -h "$user:$group" "$dir/current"

if [ ! -f "$dir/.env" ]; then
  install -m 0600 -o "$user" -g "$group" "$here/.env.example" "$dir/.env"
  sed -i "s|^SQLITE_PATH=.*|SQLITE_PATH=$dir/data/app.db|; s|^LOG_DIR=.*|LOG_DIR=$dir/logs|" "$dir/.env"
  fresh_env=yes
else
  fresh_env=no
fi

unit="$unit_dir/cpa-usage.service"
install -d "$unit_dir"
sed -e "s|/home/cliproxy/cpa-usage|$dir|g" -e "s|^User=.*|User=$user|" -e "s|^Group=.*|Group=$group|" \
    -e "s|/usr/bin/python3|$python|" "$here/cpa-usage.service" > "$unit"
chmod 0644 "$unit"

echo "installed cpa-usage $version in $dir (unit: $unit)"
if [ "$fresh_env" = yes ]; then
  echo "next: set CPA_BASE_URL and CPA_MANAGEMENT_KEY in $dir/.env, then: sudo systemctl restart cpa-usage"
fi
if [ "$systemd" = yes ]; then
  systemctl daemon-reload
  systemctl enable cpa-usage >/dev/null
  systemctl restart cpa-usage
  echo "started: journalctl -u cpa-usage -f ; curl http://127.0.0.1:8318/usage/healthz"
fi
