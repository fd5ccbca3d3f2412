"""The Pythons cpa-usage runs on, and the ways it is installed: the one zipapp on every
other CPython from 3.10 up that the machine has (a drain, start to SIGTERM), a Python older
than 3.10 told in one line what it needs, and pyproject.toml's package, pip-installed into a
fresh venv, as a `cpa-usage` command that does what the zipapp does (dashboard included)."""

import re
import signal
import subprocess
import sys
import tomllib
import urllib.request
import zipfile

import pytest

import cpa_usage
from backends import wait_for
from conftest import ROOT, find_python
from test_process import STOP_LIMIT_S, Running, fake_cpa, no_leftover_processes, payload  # noqa: F401 (fixtures)

SUPPORTED = ("3.10", "3.11", "3.12", "3.13", "3.14")
THIS = f"{sys.version_info.major}.{sys.version_info.minor}"  # tests/test_process.py runs the zipapp on it
TOO_OLD = ("2.7", "3.6", "3.7", "3.8", "3.9")


def python_of(version: str) -> str:
    """The machine's CPython ``version``; the test is skipped when there is none."""
    python, places = find_python(version)
    if python is None:
        pytest.skip(f"no CPython {version} on this machine (looked for {places})")
    return python


def drain_a_hundred(proc: Running, cpa) -> None:
    """A hundred records published, counted by the overview, then a clean stop on SIGTERM."""
    for i in range(100):
        cpa.publish(payload(i))
    wait_for(lambda: proc.get("/usage/api/v1/usage/overview?range=all")["summary"]["requests"] == 100,
             timeout=20, what="the overview to count 100 requests")
    assert proc.signal(signal.SIGTERM) < STOP_LIMIT_S and proc.process.returncode == 0


@pytest.mark.parametrize("version", [v for v in SUPPORTED if v != THIS])
def test_the_zipapp_drains_on_every_other_python(zipapp, tmp_path, fake_cpa, version):
    python = python_of(version)
    proc = Running(zipapp, tmp_path, fake_cpa, python=python, ENV_FILE="")
    drain_a_hundred(proc, fake_cpa)


def the_line(version: str, executable: str) -> str:
    return f"cpa-usage: needs Python 3.10 or later, not {version} ({executable})\n"


@pytest.mark.parametrize("version", TOO_OLD)
def test_an_older_python_is_told_in_one_line(zipapp, tmp_path, version):
    """The real thing: the archive run by an old CPython (2.7 knows no -I, so none is given)."""
    python = python_of(version)
    full = subprocess.run([python, "-c", "import sys; print(sys.version.split()[0])"], capture_output=True,
                          text=True, check=True).stdout.strip()
    result = subprocess.run([python, str(zipapp), "--version"], cwd=tmp_path, capture_output=True, text=True,
                            timeout=30, env={"PATH": "/usr/bin:/bin"})
    assert (result.returncode, result.stdout, result.stderr) == (2, "", the_line(full, python))


@pytest.mark.parametrize("version_info, runs", [((3, 9, 18, "final", 0), False), ((2, 7, 18, "final", 0), False),
                                                ((3, 10, 0, "final", 0), True)])
def test_the_archives_entry_point_checks_the_version_first(zipapp, tmp_path, version_info, runs):
    """Where no old Python is at hand: the archive's own __main__.py, executed by this Python
    the way it runs the archive (the archive first on sys.path, --version its argument) but
    with sys.version_info and sys.version made those of another. Too old, it says so and
    exits with 2 before cpa_usage is imported (which would print the version and exit 0);
    3.10 goes on to cpa_usage."""
    with zipfile.ZipFile(zipapp) as archive:
        main = archive.read("__main__.py").decode()
    version = ".".join(map(str, version_info[:3]))
    script = ("import collections, sys\n"
              "fields = 'major minor micro releaselevel serial'\n"
              f"sys.version_info = collections.namedtuple('version_info', fields)(*{version_info!r})\n"
              f"sys.version = {version + ' (a stand-in)'!r}\n"
              f"sys.path.insert(0, {str(zipapp)!r})\n"
              f"sys.argv = [{str(zipapp)!r}, '--version']\n"
              f"exec(compile({main!r}, '__main__.py', 'exec'), {{'__name__': '__main__'}})\n")
    result = subprocess.run([sys.executable, "-I", "-S", "-c", script], cwd=tmp_path, capture_output=True,
                            text=True, timeout=30)
    if runs:
        assert (result.returncode, result.stdout, result.stderr) == (0, f"cpa-usage {cpa_usage.__version__}\n", "")
    else:
        assert (result.returncode, result.stdout, result.stderr) == (2, "", the_line(version, sys.executable))


def pins(requirements: list[str]) -> dict[str, str]:
    """name (normalized) -> the version pinned, from requirement lines (markers left aside)."""
    found = {}
    for line in requirements:
        line = line.split("#", 1)[0].split(";", 1)[0].strip()
        if line and not line.startswith("-"):
            name, _, version = line.partition("==")
            found[name.strip().lower().replace("_", "-")] = version.strip()
    return found


def test_the_package_pins_what_the_zipapp_vendors():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    vendored = pins((ROOT / "requirements.txt").read_text().splitlines())
    assert pins(project["dependencies"]) == vendored and all(vendored.values())
    assert project["requires-python"] == ">=3.10" and project["scripts"] == {"cpa-usage": "cpa_usage:main"}


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The checkout pip-installed (pyproject.toml, built in pip's isolated environment) into
    a fresh venv of this Python: the path of its cpa-usage command."""
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=60)
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    str(ROOT)], check=True, timeout=110, capture_output=True)
    return venv / "bin" / "cpa-usage"


def test_pip_installs_a_cpa_usage_command(installed, tmp_path, fake_cpa):
    version = subprocess.run([str(installed), "--version"], capture_output=True, text=True, timeout=30)
    assert (version.returncode, version.stdout) == (0, f"cpa-usage {cpa_usage.__version__}\n")
    proc = Running(None, tmp_path, fake_cpa, command=[str(installed)], ENV_FILE="")
    base = f"http://127.0.0.1:{proc.port}/usage"
    packed = proc.status()["default_prices"]  # default_prices.json, installed beside the module
    assert packed == cpa_usage.default_prices_about(cpa_usage.default_prices()) and packed["error"] is None
    with urllib.request.urlopen(f"{base}/", timeout=5) as response:
        assert response.headers["Content-Type"].startswith("text/html")
        page = response.read()  # static/index.html with the session's answer filled in
        assert re.sub(rb'(<meta name="cpa-usage-session" content=")[^"]*', rb"\1", page) == (
            ROOT / "static" / "index.html").read_bytes()
    served = 0
    for path in sorted((ROOT / "static").rglob("*")):
        name = path.relative_to(ROOT / "static").as_posix()
        if path.is_file() and cpa_usage.read_static(name) is not None:  # what the checkout serves
            with urllib.request.urlopen(f"{base}/static/{name}", timeout=5) as response:
                assert response.read() == path.read_bytes(), name
            served += 1
    assert served >= 20
    drain_a_hundred(proc, fake_cpa)
