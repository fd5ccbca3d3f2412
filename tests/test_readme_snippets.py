"""The README's import, backup and restore snippets, run as written against an installed
layout: by root, and by an administrator whose own shell cannot enter the service's folder
(0750, the service user's) and reaches it only through sudo, as on a real CPA host.

The administrator is a process of a user id without a passwd entry that keeps only the
capabilities to change its user ids (ambient CAP_SETUID and CAP_SETGID, none to read
other users' folders): its own shell meets the folder's permissions as any user would,
while the stand-in ``sudo`` (setpriv) can become root or the service user. The service
user is the machine's ``nobody``, the README's folder, /var/backups and /tmp are folders of
a scratch directory, and ``systemctl`` only records that it was called."""

import json
import os
import pathlib
import re
import shutil
import sqlite3
import subprocess
import tempfile

import pytest

from conftest import ROOT, record

SERVICE_USER = "nobody"
ADMIN_UID = 4000  # no passwd entry, no group of the service user
CAPABILITIES = ("--inh-caps=+setuid,+setgid", "--ambient-caps=+setuid,+setgid")

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"),
                                reason="needs root and setpriv to play the administrator and the service user")


def readme_snippet(marker: str) -> str:
    """The README's ```sh block that contains ``marker``."""
    blocks = re.findall(r"```sh\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)
    found = [block for block in blocks if marker in block]
    assert len(found) == 1, f"{len(found)} README snippets hold {marker!r}"
    return found[0]


class Host:
    """A scratch CPA host: the installed folder, /var/backups, /tmp, sudo and systemctl."""

    def __init__(self, base: pathlib.Path, zipapp: pathlib.Path):
        self.base = base
        self.app, self.backups, self.shared_tmp = base / "cpa-usage", base / "backups", base / "tmp"
        ids = pwd_ids(SERVICE_USER)
        for folder, mode, owner in ((self.app, 0o750, ids), (self.app / "current", 0o755, ids),
                                    (self.app / "data", 0o700, ids), (self.backups, 0o755, None),
                                    (self.shared_tmp, 0o1777, None)):
            folder.mkdir()
            folder.chmod(mode)
            if owner:
                os.chown(folder, *owner)
        shutil.copy(zipapp, self.app / "current" / "cpa-usage.pyz")
        (self.app / "current" / "cpa-usage.pyz").chmod(0o644)
        os.chown(self.app / "current" / "cpa-usage.pyz", *ids)  # install.sh gives every file to the user
        env = self.app / ".env"
        env.write_text(f"CPA_BASE_URL=http://127.0.0.1:8317\nCPA_MANAGEMENT_KEY=k\n"
                       f"SQLITE_PATH={self.app}/data/app.db\nLOG_FILE_ENABLED=false\n")
        env.chmod(0o600)
        os.chown(env, *ids)
        self.bin = base / "bin"
        self.bin.mkdir()
        self.calls = base / "systemctl-calls"
        (self.bin / "systemctl").write_text(f'#!/bin/sh\necho "$*" >> {self.calls}\n')
        (self.bin / "sudo").write_text(
            '#!/bin/sh\n# sudo [-u USER] COMMAND...: COMMAND as USER (root by default)\nuser=root\n'
            'if [ "$1" = -u ]; then user=$2; shift 2; fi\n'
            'exec setpriv --reuid="$user" --regid="$(id -g "$user")" --init-groups --inh-caps=-all -- "$@"\n')
        for tool in ("systemctl", "sudo"):
            (self.bin / tool).chmod(0o755)

    def run(self, snippet: str, as_admin: bool, **names: str) -> subprocess.CompletedProcess:
        """The snippet with the scratch host's paths and names, by root or the administrator."""
        text = (snippet.replace(" /tmp/", f" {self.shared_tmp}/").replace("/home/cliproxy/cpa-usage", str(self.app))
                .replace("cliproxy", SERVICE_USER).replace("/var/backups", str(self.backups)))
        for old, new in names.items():
            text = text.replace(old, new)
        shell = ["bash", "-euo", "pipefail", "-c", text]
        if as_admin:
            shell = ["setpriv", f"--reuid={ADMIN_UID}", f"--regid={ADMIN_UID}", "--clear-groups", *CAPABILITIES,
                     *shell]
        result = subprocess.run(shell, cwd=self.base, capture_output=True, text=True, timeout=120,
                                env={"PATH": f"{self.bin}:/usr/bin:/bin", "LANG": "C.UTF-8"})
        assert result.returncode == 0, f"{text}\n{result.stdout}{result.stderr}"
        return result

    def stored(self, database: pathlib.Path | None = None) -> list[str]:
        conn = sqlite3.connect(database or self.app / "data" / "app.db")
        try:
            return sorted(row[0] for row in conn.execute("SELECT request_id FROM usage_events"))
        finally:
            conn.close()

    def not_the_service_users(self) -> list[str]:
        """Files of the service's folder owned by anyone but the service user."""
        uid = pwd_ids(SERVICE_USER)[0]
        return [str(path) for path in self.app.rglob("*") if path.lstat().st_uid != uid]


def pwd_ids(name: str) -> tuple[int, int]:
    import pwd

    entry = pwd.getpwnam(name)
    return entry.pw_uid, entry.pw_gid


@pytest.fixture
def host(zipapp):
    base = pathlib.Path(tempfile.mkdtemp(prefix="cpa-usage-host-", dir="/tmp"))  # the service user reaches it
    base.chmod(0o755)
    yield Host(base, zipapp)
    shutil.rmtree(base)


@pytest.mark.parametrize("as_admin", [False, True], ids=["root", "administrator with sudo"])
def test_import_backup_and_restore_run_as_the_readme_writes_them(host, as_admin):
    if as_admin:  # the administrator's own shell cannot enter the folder: what the snippets must not need
        denied = subprocess.run(["setpriv", f"--reuid={ADMIN_UID}", f"--regid={ADMIN_UID}", "--clear-groups",
                                 *CAPABILITIES, "ls", str(host.app)], capture_output=True, text=True)
        assert denied.returncode != 0 and "Permission denied" in denied.stderr
    for name, ids in (("usage-export.json", ("a", "b")), ("more.jsonl", ("c",))):
        lines = [json.dumps(record(request_id=f"req-{i}")) for i in ids]
        (host.shared_tmp / name).write_text("\n".join(lines) + "\n")
        (host.shared_tmp / name).chmod(0o644)
    host.run(readme_snippet("pyz import"), as_admin)
    assert host.stored() == ["req-a", "req-b", "req-c"]

    host.run(readme_snippet("pyz backup"), as_admin)
    backups = list(host.backups.iterdir())
    assert len(backups) == 1 and re.fullmatch(r"cpa-usage-\d{4}-\d\d-\d\d\.db", backups[0].name)
    assert host.stored(backups[0]) == ["req-a", "req-b", "req-c"]
    assert not list((host.app / "data").glob("cpa-usage-*.db"))  # moved, not copied

    (host.shared_tmp / "later.jsonl").write_text(json.dumps(record(request_id="req-later")) + "\n")
    host.run(readme_snippet("pyz import").replace("/tmp/usage-export.json /tmp/more.jsonl", "/tmp/later.jsonl"),
             as_admin)
    assert host.stored() == ["req-a", "req-b", "req-c", "req-later"]

    host.run(readme_snippet("app.db.before-restore"), as_admin, **{"cpa-usage-2026-11-29.db": backups[0].name})
    assert host.stored() == ["req-a", "req-b", "req-c"]
    assert host.stored(host.app / "data" / "app.db.before-restore") == ["req-a", "req-b", "req-c", "req-later"]
    assert host.calls.read_text().splitlines() == ["stop cpa-usage", "start cpa-usage"]
    assert host.not_the_service_users() == []
    assert oct((host.app / "data" / "app.db").stat().st_mode & 0o777) == "0o600"
