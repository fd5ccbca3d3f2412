"""install.sh lays out releases, keeps .env and data on a second run, and writes the unit
with the chosen user and directory (systemd itself is not driven here: --no-systemd)."""

import getpass
import os
import subprocess

from conftest import ROOT


def run_install(pyz, directory, unit_dir):
    return subprocess.run(["bash", str(ROOT / "install.sh"), "--pyz", str(pyz), "--user", getpass.getuser(),
                           "--dir", str(directory), "--unit-dir", str(unit_dir), "--no-systemd"],
                          capture_output=True, text=True, timeout=120)


def test_install_twice_keeps_env_and_data(zipapp, tmp_path):
    directory, units = tmp_path / "cpa-usage", tmp_path / "units"
    first = run_install(zipapp, directory, units)
    assert first.returncode == 0, first.stderr
    version = subprocess.run(["python3", "-I", str(zipapp), "--version"], capture_output=True, text=True).stdout.split()[1]
    assert os.readlink(directory / "current") == f"releases/{version}"
    assert (directory / "releases" / version / "cpa-usage.pyz").is_file()
    env = (directory / ".env").read_text()
    assert f"SQLITE_PATH={directory}/data/app.db" in env and f"LOG_DIR={directory}/logs" in env
    assert oct((directory / ".env").stat().st_mode)[-3:] == "600"
    assert "set CPA_BASE_URL and CPA_MANAGEMENT_KEY" in first.stdout
    unit = (units / "cpa-usage.service").read_text()
    assert f"ExecStart=/usr/bin/python3 -I {directory}/current/cpa-usage.pyz" in unit
    assert f"User={getpass.getuser()}" in unit and f"ReadWritePaths={directory}" in unit
    (directory / ".env").write_text(env + "CPA_MANAGEMENT_KEY=mine\n")
    (directory / "data" / "app.db").write_bytes(b"keep me")
    second = run_install(zipapp, directory, units)
    assert second.returncode == 0, second.stderr
    assert (directory / ".env").read_text().endswith("CPA_MANAGEMENT_KEY=mine\n")
    assert (directory / "data" / "app.db").read_bytes() == b"keep me"
    assert "set CPA_BASE_URL" not in second.stdout


def test_install_refuses_an_unknown_user(zipapp, tmp_path):
    result = subprocess.run(["bash", str(ROOT / "install.sh"), "--pyz", str(zipapp), "--user", "no-such-user-x",
                             "--dir", str(tmp_path), "--no-systemd"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "user 'no-such-user-x' does not exist" in result.stderr
