#!/usr/bin/env python3
"""Build dist/cpa-usage.pyz: cpa_usage.py, static/ and the pinned dependencies of
requirements.txt in one file that runs with nothing installed but Python 3.11.

    python3 build.py [--output dist/cpa-usage.pyz]

pip fetches the pinned packages (from PyPI, or whatever index pip is set up for).
"""

import argparse
import pathlib
import shutil
import subprocess
import sys
import tempfile
import zipapp

ROOT = pathlib.Path(__file__).resolve().parent
MAIN = "import sys\n\nimport cpa_usage\n\nsys.exit(cpa_usage.main())\n"


def build(output: pathlib.Path) -> pathlib.Path:
    with tempfile.TemporaryDirectory() as tmp:
        stage = pathlib.Path(tmp) / "app"
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        "--no-deps", "--no-compile", "--target", str(stage), "-r", str(ROOT / "requirements.txt")],
                       check=True)
        for unwanted in ("bin", "__pycache__"):
            for path in list(stage.rglob(unwanted)):
                shutil.rmtree(path)
        shutil.copy2(ROOT / "cpa_usage.py", stage / "cpa_usage.py")
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
