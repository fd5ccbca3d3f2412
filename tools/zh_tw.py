#!/usr/bin/env python3
"""Write static/js/zh-tw.js, the dashboard's Traditional Chinese, from the Simplified
Chinese of static/js/i18n.js, converted by OpenCC's s2twp (Taiwan's characters and its
words: 软件 -> 軟體, 服务器 -> 伺服器, 默认 -> 預設).

    .venv/bin/python tools/zh_tw.py          # after changing a string of zh in i18n.js

Keys, placeholders ({name}) and plural forms are ASCII and pass unchanged; the test suite
checks that zh-tw.js is what this makes of i18n.js now. Machine-converted: a native
speaker's corrections belong in zh (where they are Simplified Chinese too) or, for
wording only Taiwan uses, in EXCEPTIONS below.
"""

from __future__ import annotations

import pathlib
import re
import sys

from opencc import OpenCC

ROOT = pathlib.Path(__file__).resolve().parent.parent
I18N = ROOT / "static" / "js" / "i18n.js"
TARGET = ROOT / "static" / "js" / "zh-tw.js"
HEADER = ("// The dashboard's Traditional Chinese (Taiwan), made by tools/zh_tw.py from the Simplified\n"
          "// Chinese of i18n.js with OpenCC's s2twp. Do not edit: change zh in i18n.js and run the tool.\n\n")
EXCEPTIONS = {"退出登入": "登出", "實時": "即時"}  # converted text -> what Taiwan says instead


def simplified_block(source: str) -> str:
    """The body of ``const zh = { ... };`` in i18n.js."""
    match = re.search(r"^const zh = \{\n(.*?)^\};\n", source, flags=re.S | re.M)
    if not match:
        raise SystemExit(f"{I18N}: no 'const zh = {{ ... }};' block")
    return match.group(1)


def traditional(source: str) -> str:
    """zh-tw.js as it must read for this i18n.js."""
    body = OpenCC("s2twp").convert(simplified_block(source))
    for converted, wanted in EXCEPTIONS.items():
        body = body.replace(converted, wanted)
    return f"{HEADER}export default {{\n{body}}};\n"


def main() -> int:
    TARGET.write_text(traditional(I18N.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"wrote {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
