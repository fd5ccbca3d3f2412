#!/usr/bin/env python3
"""Build dist/cpa-usage.pyz: cpa_usage.py, default_prices.json, static/ and the pinned
dependencies of requirements.txt in one file that runs with nothing installed but Python,
any CPython from 3.10 up (the same file on each: what a package needs only below 3.11 is
vendored too). An older Python prints which version it needs and exits with 2.

    python3 build.py [--output dist/cpa-usage.pyz]

pip fetches the pinned packages (from PyPI, or whatever index pip is set up for), as
wheels for Python 3.10: a pin that no longer supports 3.10 fails here, not in the zipapp.
"""

import argparse
import pathlib
import shutil
import subprocess
import sys
import tempfile
import zipapp

ROOT = pathlib.Path(__file__).resolve().parent
OLDEST = (3, 10)
# The archive's entry point. Every Python parses it (2.7 too: no f-strings, no
# annotations), so that an old one says what it needs before cpa_usage fails to import.
MAIN = f"""\
import sys

if sys.version_info < {OLDEST!r}:
    sys.stderr.write("cpa-usage: needs Python {OLDEST[0]}.{OLDEST[1]} or later, not %s (%s)\\n"
                     % (sys.version.split()[0], sys.executable))
    sys.exit(2)

import cpa_usage

sys.exit(cpa_usage.main())
"""


def build(output: pathlib.Path) -> pathlib.Path:
    with tempfile.TemporaryDirectory() as tmp:
        stage = pathlib.Path(tmp) / "app"
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        "--no-deps", "--no-compile", "--only-binary=:all:", "--python-version", f"{OLDEST[0]}.{OLDEST[1]}",
                        "--target", str(stage), "-r", str(ROOT / "requirements.txt")],
                       check=True)
        for unwanted in ("bin", "__pycache__"):
            for path in list(stage.rglob(unwanted)):
                shutil.rmtree(path)
        shutil.copy2(ROOT / "cpa_usage.py", stage / "cpa_usage.py")
        shutil.copy2(ROOT / "default_prices.json", stage / "default_prices.json")  # tools/price_snapshot.py
        shutil.copytree(ROOT / "static", stage / "static")
        (stage / "__main__.py").write_text(MAIN)
        output.parent.mkdir(parents=True, exist_ok=True)
        zipapp.create_archive(stage, output, interpreter="/usr/bin/env python3", compressed=True)
    return output


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=pathlib.Path, default=ROOT / "dist" / "cpa-usage.pyz")
    args = parser.parse_args()
    output = build(args.output.resolve())
    print(f"built {output} ({output.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
