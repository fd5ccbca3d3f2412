#!/usr/bin/env python3
"""Write default_prices.json, cpa-usage's built-in price table, from a pinned release of
genai-prices (https://github.com/pydantic/genai-prices, MIT): its models of the providers
in PROVIDERS, their match rules as our ``*`` patterns, their dated prices and their
long-context tiers.

    python3 tools/price_snapshot.py                   # pip downloads the pinned wheel
    python3 tools/price_snapshot.py --wheel FILE.whl  # offline, from a wheel at hand

To refresh: set VERSION and SHA256 to a newer release (``pip download --no-deps
genai-prices==X`` and ``sha256sum`` the wheel), run the tool, look at what it reports
(rules it could not translate, patterns two models claim) and at ``git diff
default_prices.json``, and commit both. build.py packs the file into the zipapp as it is;
neither the build nor the service needs the network or genai-prices.

The wheel's genai_prices/data.py is generated code: one literal list of constructor
calls (Provider, ModelInfo, ModelPrice, ...). The tool reads it with ``ast`` instead of
importing it, so that it needs neither pydantic nor Python 3.11.

What the table keeps of a model, and what it leaves:
  - prices per million tokens: input, output, cache read (the input price when the source
    has none: those tokens are then billed as input), cache write (likewise), reasoning
    when the source prices it apart. A model without both an input and an output price
    (embeddings, images, audio) is left out: unpriced, never free.
  - dated prices: the source's first price is in force since always, each one with a
    start date from that UTC day on. A time-of-day price (a provider's off-peak hours) is
    not one cpa-usage can apply: each day is priced with the price in force for most of
    its minutes.
  - tiers: a price that changes once a request's input passes a threshold (the source's
    "cliff" tiers, applied to all of that request's tokens) keeps its base price and, in
    "tiers", each threshold and price. cpa-usage applies them to single events and to its
    sums over rollups alike (LongContext, PROMPT_BAND_EDGES: a threshold none of those
    edges is refused when the file is read).
  - patterns: equals -> the name; starts_with -> "x*"; ends_with -> "*x"; contains ->
    "*x*"; a regex of literal text, anchors and classes -> literal text with ``*`` for
    each class (``^gpt-6-sol-\\d{4}-\\d{2}-\\d{2}$`` -> "gpt-6-sol-*-*-*"); "and" joins
    its parts (a negative lookahead is dropped: the pattern matches more). Names are
    lowercase, as the source compares them.
"""

from __future__ import annotations

import argparse
import ast
import collections
import datetime as dt
import hashlib
import json
import pathlib
import re
import subprocess
import sys
import tempfile
import zipfile
from decimal import Decimal

ROOT = pathlib.Path(__file__).resolve().parent.parent
TARGET = ROOT / "default_prices.json"
PACKAGE = "genai-prices"
VERSION = "0.2.5"
SHA256 = "864883e3b52031840b8240283c0a3b4ba22315b588e7fe2876025e38194179fc"
URL = "https://github.com/pydantic/genai-prices"
# The makers of the models CPA serves, first the one whose price of a pattern wins when
# two claim it (Anthropic's Claude before Google's Vertex price of it). Resellers and
# routers (OpenRouter, Bedrock, Azure, ...) price their own names, not CPA's.
PROVIDERS = ("anthropic", "openai", "google", "x-ai", "deepseek", "moonshotai", "zai", "zhipuai",
             "minimax", "mistral", "meta")
FIELDS = {"input": "input_mtok", "output": "output_mtok", "cache_read": "cache_read_mtok",
          "cache_write": "cache_write_mtok", "reasoning": "output_reasoning_mtok"}
DAY_MINUTES = 24 * 60


def evaluate(node: ast.AST):
    """A literal of data.py: a constructor call becomes {"_": its name, **its keywords}."""
    if isinstance(node, ast.Call):
        name = ast.unparse(node.func)
        if name == "Decimal":
            return Decimal(evaluate(node.args[0]))
        if name in ("datetime.date", "datetime.time"):
            return getattr(dt, name.split(".")[1])(*map(evaluate, node.args))
        if node.args:
            raise ValueError(f"positional arguments to {name} at line {node.lineno}")
        return {"_": name, **{keyword.arg: evaluate(keyword.value) for keyword in node.keywords}}
    if isinstance(node, ast.List):
        return [evaluate(element) for element in node.elts]
    if isinstance(node, ast.Dict):
        return {evaluate(key): evaluate(value) for key, value in zip(node.keys, node.values)}
    if isinstance(node, ast.Constant):
        return node.value
    raise ValueError(f"not a literal at line {getattr(node, 'lineno', '?')}: {ast.unparse(node)[:80]}")


def read_wheel(wheel: pathlib.Path) -> tuple[list[dict], str]:
    """The wheel's providers (data.py) and its licence text."""
    with zipfile.ZipFile(wheel) as archive:
        source = archive.read("genai_prices/data.py").decode()
        licence = next(archive.read(name).decode() for name in archive.namelist() if name.endswith("/LICENSE"))
    for statement in ast.parse(source).body:
        if isinstance(statement, ast.AnnAssign) and ast.unparse(statement.target) == "providers":
            return evaluate(statement.value), licence
    raise SystemExit(f"{wheel}: genai_prices/data.py has no 'providers' list")


_REGEX_LITERAL = re.compile(r"\\([.\-/@_:])|([A-Za-z0-9.\-/@_:])")
_REGEX_CLASS = re.compile(r"(\\d|\\w|\[[^\]]+\]|\.)(\{\d+(,\d*)?\}|[+*?])?")


def regex_pattern(regex: str) -> str | None:
    """A regex of anchors, literal text and classes as one of our patterns, or None."""
    body = regex[1:] if regex.startswith("^") else "*" + regex
    body, end = (body[:-1], "") if body.endswith("$") else (body, "*")
    out = []
    while body:
        if body.startswith("*") and not out:
            out.append("*")
            body = body[1:]
        elif match := _REGEX_LITERAL.match(body):
            out.append(match.group(1) or match.group(2))
            body = body[match.end():]
        elif match := _REGEX_CLASS.match(body):
            out.append("*")
            body = body[match.end():]
        else:
            return None
    return collapse("".join(out) + end)


def collapse(pattern: str) -> str:
    return re.sub(r"\*+", "*", pattern).lower()


def patterns(clause: dict, skipped: list[str]) -> list[str]:
    """Our patterns for one of the source's match clauses (untranslatable ones in ``skipped``)."""
    kind = clause["_"]
    if kind == "ClauseOr":
        return [pattern for part in clause["or_"] for pattern in patterns(part, skipped)]
    if kind == "ClauseEquals":
        return [clause["equals"].lower()]
    if kind == "ClauseStartsWith":
        return [collapse(clause["starts_with"] + "*")]
    if kind == "ClauseEndsWith":
        return [collapse("*" + clause["ends_with"])]
    if kind == "ClauseContains":
        return [collapse(f"*{clause['contains']}*")]
    if kind == "ClauseRegex":
        found = regex_pattern(clause["regex"])
        if found is None:
            skipped.append(clause["regex"])
        return [found] if found else []
    if kind == "ClauseAnd":
        parts = [part for part in clause["and_"]
                 if not (part["_"] == "ClauseRegex" and part["regex"].startswith("^(?!"))]  # a lookahead
        starts = [part["starts_with"] for part in parts if part["_"] == "ClauseStartsWith"]
        ends = [part["ends_with"] for part in parts if part["_"] == "ClauseEndsWith"]
        contains = [part["contains"] for part in parts if part["_"] == "ClauseContains"]
        if len(starts) > 1 or len(ends) > 1 or len(starts) + len(ends) + len(contains) != len(parts):
            skipped.append(json.dumps(clause, default=str))
            return []
        return [collapse("".join(starts) + "*" + "*".join(contains) + "*" + "".join(ends))]
    skipped.append(json.dumps(clause, default=str))
    return []


def number(value: Decimal) -> float | int:
    """A price as JSON writes it shortest: 15, not 15.0."""
    return int(value) if value == value.to_integral_value() else float(value)


def our_price(model_price: dict) -> dict | None:
    """The fields we price with (FIELDS), their tiers apart; None without input and output."""
    if model_price.get("input_mtok") is None or model_price.get("output_mtok") is None:
        return None
    price, tiers = {}, {}
    for field, key in FIELDS.items():
        value = model_price.get(key)
        if value is None:
            continue
        if isinstance(value, dict):  # TieredPrices
            tiers[field] = [[tier["start"], number(tier["price"])] for tier in value["tiers"]]
            value = value["base"]
        price[field] = number(value)
    price.setdefault("cache_read", price["input"])
    price.setdefault("cache_write", price["input"])
    return {**price, "tiers": tiers} if tiers else price


def active(constraint: dict | None, day: dt.date, minute: int) -> bool:
    """Whether a conditional price's constraint holds on a UTC day at a minute of it."""
    if constraint is None:
        return True
    if constraint["_"] == "StartDateConstraint":
        return day >= constraint["start_date"]
    start = constraint["start_time"].hour * 60 + constraint["start_time"].minute
    end = constraint["end_time"].hour * 60 + constraint["end_time"].minute
    return start <= minute < end if start <= end else minute >= start or minute < end


def dated_prices(prices: dict | list) -> list[tuple[dt.date | None, dict]]:
    """[(from, the source's prices)], the first since always (None): the source's rule
    (the last conditional price in force wins, the first when none is) at each start
    date, each day's price the one in force for most of its minutes."""
    if isinstance(prices, dict):
        return [(None, prices)]
    starts = sorted({price["constraint"]["start_date"] for price in prices
                     if price.get("constraint") and price["constraint"]["_"] == "StartDateConstraint"})
    dated = []
    for start in [None, *starts]:
        day = start or dt.date.min
        minutes = collections.Counter()  # index of the price in force: minutes of the day
        for minute in range(DAY_MINUTES):
            minutes[next((index for index in reversed(range(len(prices)))
                          if active(prices[index].get("constraint"), day, minute)), 0)] += 1
        dated.append((start, prices[max(minutes, key=minutes.get)]["prices"]))
    return dated


def snapshot(providers: list[dict], licence: str, date: str) -> tuple[dict, list[str]]:
    """The table default_prices.json holds, and what the tool reports about it."""
    report, claimed, models = [], {}, []
    by_id = {provider["id"]: provider for provider in providers}
    for provider_id in PROVIDERS:
        for info in by_id[provider_id]["models"]:
            skipped: list[str] = []
            mine = list(dict.fromkeys(patterns(info["match"], skipped)))
            report += [f"{provider_id}/{info['id']}: rule not translated: {rule}" for rule in skipped]
            prices, previous = [], None
            for start, source_price in dated_prices(info["prices"]):
                price = our_price(source_price)
                if price is None or price == previous:
                    continue
                prices.append({"from": start.isoformat() if start else None, **price})
                previous = price
            if not prices:
                continue
            if prices[0]["from"] is not None:  # priced only from a date: unpriced before it
                report.append(f"{provider_id}/{info['id']}: priced from {prices[0]['from']} only")
            free = []
            for pattern in mine:
                if pattern in claimed:
                    report.append(f"{provider_id}/{info['id']}: pattern {pattern!r} is {claimed[pattern]}'s")
                else:
                    claimed[pattern] = f"{provider_id}/{info['id']}"
                    free.append(pattern)
            if free:
                models.append({"id": info["id"], "provider": provider_id, "match": free, "prices": prices})
    table = {"source": PACKAGE, "version": VERSION, "url": URL, "date": date, "license": licence,
             "providers": list(PROVIDERS), "models": models}
    return table, report


def write(table: dict, target: pathlib.Path) -> None:
    """One model a line: small, and a refresh's diff shows what changed."""
    head = json.dumps({key: value for key, value in table.items() if key != "models"}, ensure_ascii=False)
    lines = [json.dumps(model, ensure_ascii=False, separators=(",", ":")) for model in table["models"]]
    target.write_text(head[:-1] + ',\n"models": [\n' + ",\n".join(lines) + "\n]}\n")


def download() -> pathlib.Path:
    folder = pathlib.Path(tempfile.mkdtemp(prefix="price-snapshot-"))
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps",
                    "--only-binary=:all:", "--dest", str(folder), f"{PACKAGE}=={VERSION}"], check=True)
    return next(folder.glob("*.whl"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wheel", type=pathlib.Path, help=f"a {PACKAGE} {VERSION} wheel (default: pip downloads it)")
    parser.add_argument("--output", type=pathlib.Path, default=TARGET)
    parser.add_argument("--date", default=dt.datetime.now(dt.timezone.utc).date().isoformat(),
                        help="the snapshot's date (default: today, UTC)")
    args = parser.parse_args()
    wheel = args.wheel or download()
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    if digest != SHA256:
        raise SystemExit(f"{wheel}: sha256 {digest}, not the pinned {SHA256}")
    table, report = snapshot(*read_wheel(wheel), args.date)
    write(table, args.output)
    for line in report:
        print(line)
    print(f"wrote {args.output}: {len(table['models'])} models of {PACKAGE} {VERSION} "
          f"({args.output.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
