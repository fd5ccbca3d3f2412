#!/usr/bin/env python3
"""Build dist/cpa-usage.pyz: cpa_usage.py, default_prices.json, static/ and the pinned
dependencies of requirements.txt in one file that runs with nothing installed but Python,
any CPython from 3.10 up (the same file on each: what a package needs only below 3.11 is
vendored too). An older Python prints which version it needs and exits with 2. The
dashboard's modules are bundled into its app.js (bundle_modules).

    python3 build.py [--output dist/cpa-usage.pyz]

pip fetches the pinned packages (from PyPI, or whatever index pip is set up for), as
wheels for Python 3.10: a pin that no longer supports 3.10 fails here, not in the zipapp.
"""

import argparse
import pathlib
import re
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


# The dashboard's ES modules, as they are written: one import per line, exports declared
# where they are defined (no export lists, no re-exports, no export let).
IMPORT = re.compile(r'^import (?:(\w+)(?:, )?)?(?:\{([^}]*)\}|\* as (\w+))? from "(\.[^"]+)";$', re.M)
EXPORT = re.compile(r"^export (?:(default) |((?:async )?function\*? |const |class )(\w+))", re.M)
PRELOADS = re.compile(r"  <!-- modules:.*?<!-- /modules -->\n", re.S)


def module_order(static: pathlib.Path) -> list[str]:
    """The modules app.js imports (paths under static/), in the order a browser evaluates
    them: each one's imports first, depth first."""
    order: list[str] = []
    visiting: set[str] = set()

    def visit(path: pathlib.Path) -> str:
        name = path.resolve().relative_to(static.resolve()).as_posix()
        if name in visiting:
            raise ValueError(f"{name}: imported in a cycle, which bundle_modules does not keep")
        if name not in order:
            visiting.add(name)
            for *_, spec in IMPORT.findall(path.read_text(encoding="utf-8")):
                visit(path.parent / spec)
            visiting.discard(name)
            order.append(name)
        return name

    visit(static / "app.js")
    return order


def bundle_modules(static: pathlib.Path) -> str:
    """app.js and every module it imports as one module without imports: the zipapp's
    app.js. From source a browser fetches the 26 modules over at most six connections
    (about 75 ms of a cold first render on loopback); the bundle is one file. Each module
    becomes a function scope that returns its exports, run in the browser's order
    (module_order); an import becomes a destructuring of the module it names."""
    parts = ["// cpa-usage dashboard: static/app.js and its modules in one file (build.py bundle_modules)",
             "const modules = {};"]
    for name in module_order(static):
        path = static / name

        def imported(match: re.Match) -> str:
            default, named, namespace, spec = match.groups()
            source = f'modules["{(path.parent / spec).resolve().relative_to(static.resolve()).as_posix()}"]'
            if namespace:
                return f"const {namespace} = {source};"
            names = [f"default: {default}"] if default else []
            names += [item.strip().replace(" as ", ": ") for item in (named or "").split(",") if item.strip()]
            return f"const {{ {', '.join(names)} }} = {source};"

        exports: list[str] = []

        def exported(match: re.Match) -> str:
            default, keyword, export = match.groups()
            if default:
                exports.append("default: moduleDefault")
                return "const moduleDefault = "
            exports.append(export)
            return f"{keyword}{export}"

        body = EXPORT.sub(exported, IMPORT.sub(imported, path.read_text(encoding="utf-8")))
        if re.search(r"^(import|export)\b", body, re.M):
            raise ValueError(f"{name}: an import or export bundle_modules does not understand")
        parts.append(f'modules["{name}"] = (() => {{\n{body}\nreturn {{ {", ".join(exports)} }};\n}})();')
    return "\n".join(parts) + "\n"


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
        shutil.copytree(ROOT / "static", stage / "static", ignore=shutil.ignore_patterns("js"))
        (stage / "static" / "app.js").write_text(bundle_modules(ROOT / "static"), encoding="utf-8")
        index, found = PRELOADS.subn("", (ROOT / "static" / "index.html").read_text(encoding="utf-8"))
        if found != 1:
            raise ValueError("static/index.html: no <!-- modules: ... /modules --> block of preloads")
        (stage / "static" / "index.html").write_text(index, encoding="utf-8")
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
