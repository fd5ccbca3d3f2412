"""install.sh, run into a scratch root (--root / DESTDIR): every file, mode and owner it lays
out, the unit it writes, an upgrade that keeps .env and data, an upgrade refused by the new
version's configuration check, --uninstall (data kept) and --purge (data gone). Plus
shellcheck on the shell scripts and systemd-analyze verify on the unit it writes.

Every run gets a PATH whose systemctl, useradd and friends only record that they were
called: under --root none of them may be, so the tests never touch the machine's users or
services, even as root."""

import os
import pathlib
import re
import shutil
import subprocess

import pytest

from conftest import ROOT, find_python

USER, UID = "cliproxy", 4321
DIR = "/home/cliproxy/cpa-usage"
SYSTEM_TOOLS = ("systemctl", "useradd", "adduser", "groupadd", "usermod", "userdel", "deluser")


def zipapp_version(zipapp) -> str:
    out = subprocess.run(["python3", "-I", str(zipapp), "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("cpa-usage "), out.stdout
    return out.stdout.split()[1]


class Installer:
    """Runs install.sh with --root under tmp_path, with recording stand-ins for system tools."""

    def __init__(self, tmp_path: pathlib.Path, zipapp: pathlib.Path):
        self.tmp, self.zipapp = tmp_path, zipapp
        self.root = tmp_path / "root"
        self.calls = tmp_path / "system-tool-calls"
        bin_dir = tmp_path / "fake-bin"
        bin_dir.mkdir()
        for tool in SYSTEM_TOOLS:
            (bin_dir / tool).write_text(f'#!/bin/sh\necho "{tool} $*" >> {self.calls}\nexit 1\n')
            (bin_dir / tool).chmod(0o755)
        self.env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
        self.env.pop("DESTDIR", None)

    def passwd(self, name: str = USER, uid: int = UID, home: str = "/home/cliproxy") -> None:
        """Give the scratch root an /etc/passwd that knows the service user."""
        (self.root / "etc").mkdir(parents=True, exist_ok=True)
        (self.root / "etc" / "passwd").write_text(
            f"root:x:0:0:root:/root:/bin/bash\n{name}:x:{uid}:{uid}:CPA:{home}:/usr/sbin/nologin\n")

    def run(self, *args: str, pyz: bool = True, root: bool = True, env: dict | None = None, ok: bool = True):
        command = ["bash", str(ROOT / "install.sh"), *(["--root", str(self.root)] if root else []), *args]
        if pyz:
            command += ["--pyz", str(self.zipapp)]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120, env={**self.env, **(env or {})})
        assert not self.calls.exists(), f"system tools were called: {self.calls.read_text()}"
        if ok:
            assert result.returncode == 0, result.stdout + result.stderr
        return result

    def app(self, directory: str = DIR) -> pathlib.Path:
        return self.root / directory.lstrip("/")

    @property
    def unit(self) -> pathlib.Path:
        return self.root / "etc" / "systemd" / "system" / "cpa-usage.service"

    def set_env(self, **values: str) -> None:
        """Set KEY=VALUE lines in the installed .env (replaced in place, or appended)."""
        path = self.app() / ".env"
        text = path.read_text()
        for key, value in values.items():
            text, found = re.subn(rf"(?m)^{key}=.*$", lambda _: f"{key}={value}", text)
            if not found:
                text += f"{key}={value}\n"
        path.write_text(text)


@pytest.fixture
def installer(tmp_path, zipapp):
    return Installer(tmp_path, zipapp)


def owner_ids(uid: int = UID) -> tuple[int, int]:
    """Who owns the installed files: the service user when install.sh runs as root, else the caller."""
    return (uid, uid) if os.geteuid() == 0 else (os.getuid(), os.getgid())


def unit_settings(text: str) -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            settings.setdefault(key, []).append(value)
    return settings


def env_values(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if line.strip() and not line.startswith("#"))


def test_install_lays_out_every_file_with_its_mode_and_owner(installer, zipapp):
    installer.passwd()
    result = installer.run()
    version = zipapp_version(zipapp)
    root, app = installer.root, installer.app()

    modes = {
        "etc/systemd": 0o755, "etc/systemd/system": 0o755, "etc/systemd/system/cpa-usage.service": 0o644,
        "home": 0o755, "home/cliproxy": 0o755,
        "home/cliproxy/cpa-usage": 0o750,
        "home/cliproxy/cpa-usage/.env": 0o600,
        "home/cliproxy/cpa-usage/current": None,  # the link
        "home/cliproxy/cpa-usage/data": 0o700,
        "home/cliproxy/cpa-usage/logs": 0o750,
        "home/cliproxy/cpa-usage/releases": 0o755,
        f"home/cliproxy/cpa-usage/releases/{version}": 0o755,
        f"home/cliproxy/cpa-usage/releases/{version}/cpa-usage.pyz": 0o644,
    }
    found = sorted(str(path.relative_to(root)) for path in root.rglob("*"))
    assert found == sorted([*modes, "etc", "etc/passwd"])  # nothing else, no leftover temporary file
    for name, mode in modes.items():
        info = (root / name).lstat()
        if mode is not None:
            assert oct(info.st_mode & 0o7777) == oct(mode), name
        expected = owner_ids() if name.startswith("home/cliproxy/cpa-usage") else (os.getuid(), os.getgid())
        assert (info.st_uid, info.st_gid) == expected, name

    assert os.readlink(app / "current") == f"releases/{version}"
    assert (app / "releases" / version / "cpa-usage.pyz").read_bytes() == zipapp.read_bytes()
    runs = subprocess.run(["python3", "-I", str(app / "current" / "cpa-usage.pyz"), "--version"],
                          capture_output=True, text=True)
    assert runs.stdout.strip() == f"cpa-usage {version}"

    # .env is .env.example with absolute data and log folders, and login on with a new password
    example = (ROOT / ".env.example").read_text()
    env_text = (app / ".env").read_text()
    env = env_values(env_text)
    password = env["LOGIN_PASSWORD"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{24}", password)
    expected_env = re.sub(r"(?m)^SQLITE_PATH=.*$", f"SQLITE_PATH={DIR}/data/app.db", example)
    expected_env = re.sub(r"(?m)^LOG_DIR=.*$", f"LOG_DIR={DIR}/logs", expected_env)
    expected_env = re.sub(r"(?m)^AUTH_ENABLED=.*$", "AUTH_ENABLED=true", expected_env)
    expected_env = re.sub(r"(?m)^LOGIN_PASSWORD=.*$", f"LOGIN_PASSWORD={password}", expected_env)
    assert env_text == expected_env
    assert env["SQLITE_PATH"] == f"{DIR}/data/app.db" and env["LOG_DIR"] == f"{DIR}/logs"
    assert env["APP_HOST"] == ""  # with login on: every address, as before
    assert result.stdout.count(password) == 1 and f"the dashboard's password is {password}" in result.stdout

    text = installer.unit.read_text()
    unit = unit_settings(text)
    assert unit["Type"] == ["simple"]
    assert unit["User"] == [USER]
    assert unit["WorkingDirectory"] == [DIR]
    assert unit["EnvironmentFile"] == [f"{DIR}/.env"]
    assert unit["Environment"] == [f"ENV_FILE={DIR}/.env"]
    assert unit["ExecStart"] == [f"/usr/bin/python3 -I {DIR}/current/cpa-usage.pyz"]
    assert unit["Restart"] == ["on-failure"]
    assert unit["RestartPreventExitStatus"] == ["2"]
    for key, value in {"NoNewPrivileges": "true", "PrivateTmp": "true", "ProtectSystem": "strict",
                       "ProtectHome": "read-only"}.items():
        assert unit[key] == [value], key
    writable = " ".join(unit["ReadWritePaths"]).split()
    assert sorted(writable) == [f"{DIR}/data", f"{DIR}/logs"]
    # every folder cpa-usage writes to, as the installed .env names it, is writable in the sandbox
    assert os.path.dirname(env["SQLITE_PATH"]) in writable and env["LOG_DIR"] in writable
    assert unit["WantedBy"] == ["multi-user.target"]
    assert str(installer.tmp) not in text  # the scratch root is no part of the unit

    assert f"installed cpa-usage {version} in {DIR}" in result.stdout
    assert "--root: systemctl not called" in result.stdout
    # a new .env has no management key: the service is not started, and the next step is said
    assert "not started: cpa-usage: configuration error: CPA_MANAGEMENT_KEY is required" in result.stdout
    assert f"set CPA_BASE_URL and CPA_MANAGEMENT_KEY in {DIR}/.env" in result.stdout
    assert result.stderr == ""  # no warning: systemd and cpa-usage read the new .env alike

    # the program itself reads the installed .env as the installer meant
    check = subprocess.run(["python3", "-I", str(app / "current" / "cpa-usage.pyz"), "--check-config"],
                           capture_output=True, text=True,
                           env={"PATH": os.environ["PATH"], "ENV_FILE": str(app / ".env"), "CPA_MANAGEMENT_KEY": "k"})
    assert check.returncode == 0, check.stderr
    assert f"SQLITE_PATH={DIR}/data/app.db" in check.stdout.splitlines()
    assert f"LOG_DIR={DIR}/logs" in check.stdout.splitlines()
    assert "AUTH_ENABLED=true" in check.stdout.splitlines() and "LOGIN_PASSWORD=<set>" in check.stdout.splitlines()
    assert "APP_HOST=0.0.0.0 (unset: every address, login is on)" in check.stdout.splitlines()

    # a second install keeps .env, its password included, and shows no password
    again = installer.run()
    assert (app / ".env").read_text() == env_text and "password" not in again.stdout


def test_the_folder_follows_the_users_home_and_options_override_it(installer):
    installer.passwd("svc", 2345, "/var/lib/svc")
    installer.run("--user", "svc")
    app = installer.app("/var/lib/svc/cpa-usage")
    assert (app / ".env").is_file() and not (installer.root / "home").exists()
    assert "SQLITE_PATH=/var/lib/svc/cpa-usage/data/app.db" in (app / ".env").read_text().splitlines()
    assert (app.stat().st_uid, app.stat().st_gid) == owner_ids(2345)
    unit = unit_settings(installer.unit.read_text())
    assert unit["User"] == ["svc"] and unit["WorkingDirectory"] == ["/var/lib/svc/cpa-usage"]

    python = os.path.realpath("/usr/bin/python3")  # e.g. /usr/bin/python3.11: not the default spelling
    assert python != "/usr/bin/python3"
    installer.run("--user", "svc", "--dir", "/srv/cpa/", "--python", python)
    assert (installer.app("/srv/cpa") / ".env").is_file()
    unit = unit_settings(installer.unit.read_text())
    assert unit["ExecStart"] == [f"{python} -I /srv/cpa/current/cpa-usage.pyz"]
    assert unit["WorkingDirectory"] == ["/srv/cpa"] and unit["EnvironmentFile"] == ["/srv/cpa/.env"]
    assert sorted(" ".join(unit["ReadWritePaths"]).split()) == ["/srv/cpa/data", "/srv/cpa/logs"]


def machine_python(version: str) -> str:
    python, places = find_python(version)
    if python is None:
        pytest.skip(f"no CPython {version} on this machine (looked for {places})")
    return python


def test_python_3_10_runs_the_service(installer):
    """The oldest Python the zipapp runs on (tests/test_pythons.py) is one install.sh takes."""
    python = machine_python("3.10")
    installer.passwd()
    installer.run("--python", python)
    assert unit_settings(installer.unit.read_text())["ExecStart"] == [f"{python} -I {DIR}/current/cpa-usage.pyz"]


def test_python_3_9_is_refused_before_anything_is_written(installer):
    python = machine_python("3.9")
    installer.passwd()
    result = installer.run("--python", python, ok=False)
    assert result.returncode == 1 and f"{python} is older than Python 3.10" in result.stderr, result.stderr
    assert sorted(p.name for p in installer.root.iterdir()) == ["etc"]


def test_a_missing_user_is_not_created_under_root(installer):
    result = installer.run()
    assert (f"user cliproxy is not in {installer.root}/etc/passwd; not creating it (would run: useradd --system "
            "--user-group --create-home --home-dir /home/cliproxy --shell /usr/sbin/nologin cliproxy)") in result.stdout
    assert not (installer.root / "etc" / "passwd").exists()
    app = installer.app()
    for path in (app, app / ".env", app / "data", app / "current"):
        assert (path.lstat().st_uid, path.lstat().st_gid) == (os.getuid(), os.getgid()), path
    assert unit_settings(installer.unit.read_text())["User"] == [USER]


def test_upgrade_moves_current_and_keeps_env_and_data(installer, zipapp):
    installer.passwd()
    installer.run("--version", "1.0.0")
    app = installer.app()
    installer.set_env(CPA_MANAGEMENT_KEY="mine", RETENTION_DAYS="90")
    env_before = (app / ".env").read_bytes()
    (app / "data" / "app.db").write_bytes(b"the database")
    (app / "logs" / "cpa-usage.log").write_text("a log line\n")
    unit_before = installer.unit.read_text()

    result = installer.run("--version", "2.0.0")
    assert f"upgraded cpa-usage 1.0.0 -> 2.0.0 in {DIR}" in result.stdout
    assert "not started" not in result.stdout and result.stderr == ""
    assert os.readlink(app / "current") == "releases/2.0.0"
    assert sorted(p.name for p in (app / "releases").iterdir()) == ["1.0.0", "2.0.0"]
    for version in ("1.0.0", "2.0.0"):
        pyz = app / "releases" / version / "cpa-usage.pyz"
        assert pyz.read_bytes() == zipapp.read_bytes() and oct(pyz.stat().st_mode & 0o777) == "0o644"
    assert (app / ".env").read_bytes() == env_before
    assert oct((app / ".env").stat().st_mode & 0o777) == "0o600"
    assert ((app / ".env").stat().st_uid, (app / ".env").stat().st_gid) == owner_ids()
    assert (app / "data" / "app.db").read_bytes() == b"the database"
    assert (app / "logs" / "cpa-usage.log").read_text() == "a log line\n"
    assert installer.unit.read_text() == unit_before
    assert sorted(p.name for p in app.iterdir()) == [".env", "current", "data", "logs", "releases"]

    again = installer.run("--version", "2.0.0")
    assert f"reinstalled cpa-usage 2.0.0 in {DIR}" in again.stdout
    assert os.readlink(app / "current") == "releases/2.0.0"
    assert (app / ".env").read_bytes() == env_before


def test_the_version_defaults_to_the_zipapps_own(installer, zipapp):
    installer.passwd()
    installer.run("--version", "0.0.1")
    installer.set_env(CPA_MANAGEMENT_KEY="mine")
    result = installer.run()
    version = zipapp_version(zipapp)
    assert f"upgraded cpa-usage 0.0.1 -> {version}" in result.stdout
    assert os.readlink(installer.app() / "current") == f"releases/{version}"


def test_an_upgrade_the_new_version_rejects_changes_nothing(installer):
    installer.passwd()
    installer.run("--version", "1.0.0")
    app = installer.app()
    installer.set_env(CPA_MANAGEMENT_KEY="mine", APP_PORT="nope")
    env_before = (app / ".env").read_bytes()
    unit_before = installer.unit.read_text()
    result = installer.run("--version", "2.0.0", ok=False)
    assert result.returncode == 1
    assert "cpa-usage 2.0.0 rejects" in result.stderr and "APP_PORT='nope' is invalid" in result.stderr
    assert "current still points to releases/1.0.0" in result.stderr
    assert os.readlink(app / "current") == "releases/1.0.0"
    assert sorted(p.name for p in (app / "releases").iterdir()) == ["1.0.0"]
    assert (app / ".env").read_bytes() == env_before and installer.unit.read_text() == unit_before

    installer.set_env(APP_PORT="8318")
    installer.run("--version", "2.0.0")
    assert os.readlink(app / "current") == "releases/2.0.0"


def test_an_upgrade_whose_env_systemd_reads_differently_changes_nothing(installer):
    """systemd's reading wins under the unit; the new version checks .env as systemd reads it
    (--check-config --systemd; the reader itself is tested in test_config)."""
    installer.passwd()
    installer.run("--version", "1.0.0")
    app = installer.app()
    installer.set_env(CPA_MANAGEMENT_KEY="mine")
    env_path = app / ".env"
    start = len(env_path.read_text().splitlines())
    env_path.write_text(env_path.read_text() + "X_PLAIN=same\nX_COMMENT=secret-one # the key\nX_SINGLE='a b'\n"
                        "X_BACKSLASH=secret\\two\n")
    env_before = env_path.read_bytes()
    result = installer.run("--version", "2.0.0", ok=False)
    assert result.returncode == 1 and "cpa-usage 2.0.0 rejects" in result.stderr
    assert "read these lines of" in result.stderr
    assert re.findall(r"(?m)^  line (\d+): (\S+)$", result.stderr) == [(str(start + 2), "X_COMMENT"),
                                                                      (str(start + 4), "X_BACKSLASH")]
    assert "secret" not in result.stderr  # values are never shown
    assert os.readlink(app / "current") == "releases/1.0.0" and env_path.read_bytes() == env_before

    installer.set_env(X_COMMENT="'secret-one'", X_BACKSLASH="'secret\\two'")
    installer.run("--version", "2.0.0")
    assert os.readlink(app / "current") == "releases/2.0.0"


def test_uninstall_keeps_data_and_purge_removes_it(installer):
    installer.passwd()
    installer.run()
    app = installer.app()
    installer.set_env(CPA_MANAGEMENT_KEY="mine")
    env_before = (app / ".env").read_bytes()
    (app / "data" / "app.db").write_bytes(b"the database")
    (app / "logs" / "cpa-usage.log").write_text("a log line\n")
    passwd = (installer.root / "etc" / "passwd").read_bytes()

    result = installer.run("--uninstall", pyz=False)
    assert "removed the service" in result.stdout and f"kept {DIR}/.env, data/ and logs/" in result.stdout
    assert not installer.unit.exists()
    assert sorted(p.name for p in app.iterdir()) == [".env", "data", "logs"]
    assert (app / ".env").read_bytes() == env_before
    assert (app / "data" / "app.db").read_bytes() == b"the database"
    assert (app / "logs" / "cpa-usage.log").read_text() == "a log line\n"

    again = installer.run("--uninstall", pyz=False)
    assert "no service to remove" in again.stdout and f"no releases to remove in {DIR}" in again.stdout
    assert "removed" not in again.stdout

    reinstalled = installer.run()  # over the kept .env and data
    assert "installed cpa-usage" in reinstalled.stdout and "not started" not in reinstalled.stdout
    assert installer.unit.is_file() and (app / "current" / "cpa-usage.pyz").is_file()
    assert (app / "data" / "app.db").read_bytes() == b"the database"

    purged = installer.run("--purge", pyz=False, root=False, env={"DESTDIR": str(installer.root)})
    assert f"purged {DIR}" in purged.stdout
    assert not installer.unit.exists() and not app.exists()
    assert (installer.root / "home" / "cliproxy").is_dir()
    assert (installer.root / "etc" / "passwd").read_bytes() == passwd

    nothing = installer.run("--purge", pyz=False)
    assert "no service to remove" in nothing.stdout and f"nothing to purge: {DIR} does not exist" in nothing.stdout
    assert "removed" not in nothing.stdout and "purged" not in nothing.stdout


def test_purge_refuses_folders_that_are_not_cpa_usage(installer):
    installer.passwd()
    home = installer.root / "home" / "cliproxy"
    home.mkdir(parents=True)
    (home / "config.yaml").write_text("CPA's own\n")
    for directory in ("/home/cliproxy", "/home"):
        result = installer.run("--purge", "--dir", directory, pyz=False, ok=False)
        assert result.returncode == 1 and "holds the home of cliproxy" in result.stderr
    other = installer.root / "srv" / "stuff"
    other.mkdir(parents=True)
    (other / "data").mkdir()
    (other / "keep").write_text("x")
    result = installer.run("--purge", "--dir", "/srv/stuff", pyz=False, ok=False)
    assert result.returncode == 1 and "not a cpa-usage folder" in result.stderr
    assert (home / "config.yaml").read_text() == "CPA's own\n" and (other / "keep").exists()


@pytest.mark.parametrize("args, message", [
    (["--bogus"], "unknown option '--bogus'"),
    (["--version"], "--version needs a value"),
    (["--version", "../x"], "--version '../x' must be letters"),
    (["--dir", "relative/path"], "--dir 'relative/path' must be an absolute path"),
    (["--dir", "/home/a b"], "--dir '/home/a b' must be an absolute path"),
    (["--dir", "/home/../etc"], "--dir '/home/../etc' must not contain"),
    (["--user", "bad user"], "--user 'bad user' is not a valid user name"),
    (["--python", "/nonexistent/python3"], "--python /nonexistent/python3: not found"),
])
def test_bad_options_are_refused_before_anything_is_written(installer, args, message):
    installer.passwd()
    result = installer.run(*args, ok=False)
    assert result.returncode == 1 and message in result.stderr, result.stderr
    assert sorted(p.name for p in installer.root.iterdir()) == ["etc"]
    assert sorted(p.name for p in (installer.root / "etc").iterdir()) == ["passwd"]


def test_only_a_cpa_usage_zipapp_is_installed(installer, tmp_path):
    installer.passwd()
    missing = installer.run("--pyz", str(tmp_path / "nope.pyz"), pyz=False, ok=False)
    assert missing.returncode == 1 and "no such file" in missing.stderr
    other = tmp_path / "other.pyz"
    other.write_text("print('hello 1.0')\n")
    result = installer.run("--pyz", str(other), pyz=False, ok=False)
    assert result.returncode == 1 and "is not a cpa-usage zipapp" in result.stderr
    assert not (installer.root / "home").exists()


def test_help_names_every_option():
    result = subprocess.run(["bash", str(ROOT / "install.sh"), "--help"], capture_output=True, text=True)
    assert result.returncode == 0
    for option in ("--version V", "--pyz PATH", "--user NAME", "--dir DIR", "--python PATH", "--no-start",
                   "--uninstall", "--purge", "--root ROOT", "DESTDIR"):
        assert option in result.stdout, option


def test_a_real_install_needs_root(installer):
    """Without --root, install.sh stops at once unless it runs as root (run here as nobody)."""
    command = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root and setpriv (util-linux) is missing: cannot drop to another user")
        command = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]
    result = subprocess.run([*command, "bash", str(ROOT / "install.sh"), "--pyz", str(installer.zipapp)],
                            capture_output=True, text=True, timeout=60, env=installer.env, cwd="/")
    assert not installer.calls.exists()
    assert result.returncode == 1 and "run me as root" in result.stderr, result.stderr


def test_shellcheck():
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck is not installed (./run-tests installs Debian's shellcheck)")
    result = subprocess.run([shellcheck, "install.sh", "run-tests", ".ci/run"], cwd=ROOT, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_systemd_analyze_verifies_the_installed_units(installer, tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    installer.passwd()
    installer.run()
    default = tmp_path / "default" / "cpa-usage.service"
    default.parent.mkdir()
    shutil.copy(installer.unit, default)
    installer.run("--dir", "/srv/cpa", "--python", os.path.realpath("/usr/bin/python3"))
    for unit in (default, installer.unit):
        # verify prints its findings and still exits 0 for most: any output is a failure
        result = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60)
        assert (result.returncode, result.stdout, result.stderr) == (0, "", ""), unit
    # and it does find mistakes here (a misspelt setting, an ExecStart that does not exist)
    broken = tmp_path / "broken" / "cpa-usage.service"
    broken.parent.mkdir()
    text = default.read_text()
    broken.write_text(text.replace("PrivateTmp=", "PrivatTmp=").replace("/usr/bin/python3 ", "/nonexistent/python3 "))
    result = subprocess.run([analyze, "verify", str(broken)], capture_output=True, text=True, timeout=60)
    assert "Unknown key" in result.stderr and "PrivatTmp" in result.stderr
    assert result.returncode != 0 and "/nonexistent/python3" in result.stderr
