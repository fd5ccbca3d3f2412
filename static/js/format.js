// Numbers, money, durations and times for the chosen language; times in the server's TZ
// or, when the viewer chooses, in their own zone; client keys as the API shows them.

import { locale, t } from "./i18n.js";

const ZONE_KEY = "cpa-usage-zone"; // "viewer": times in the browser's zone; else the server's
let serverZone; // the server's time zone (TZ), once known; until then the browser's
let choice = localStorage.getItem(ZONE_KEY) === "viewer" ? "viewer" : "server";

export function setZone(name) {
  serverZone = name;
  formatters.clear();
}

export function zoneKnown() {
  return serverZone !== undefined;
}

export function viewerZone() {
  return Intl.DateTimeFormat().resolvedOptions().timeZone;
}

export function serverZoneName() {
  return serverZone || viewerZone();
}

/** "viewer" or "server": whose zone the times are shown in (kept in this browser). */
export function zoneChoice() {
  return choice;
}

export function chooseZone(which) {
  choice = which === "viewer" ? "viewer" : "server";
  localStorage.setItem(ZONE_KEY, choice);
  formatters.clear();
}

/** The zone every time is shown in, and the answers' local hours and days are counted in. */
export function zoneName() {
  return zoneChoice() === "viewer" ? viewerZone() : serverZoneName();
}

/** The tz parameter of a usage answer: the viewer's zone when chosen (null: the server's;
 * sent before the server's zone is known too, and harmless when the two are the same). */
export function zoneParameter() {
  return zoneChoice() === "viewer" ? viewerZone() : null;
}

/** A CPA instance's name; events imported from CPA's legacy export have none. */
export function instanceName(name) {
  return name || t("instance_none");
}

/** A zone (the one times are shown in) named with its offset now: "Asia/Shanghai, UTC+8". */
export function zoneLabel(name = zoneName(), when = Date.now()) {
  const offset = new Intl.DateTimeFormat("en-US", { timeZone: name, timeZoneName: "shortOffset" })
    .formatToParts(when).find((part) => part.type === "timeZoneName")?.value ?? "";
  const utc = offset.replace("GMT", "UTC").replace(/^UTC\+0$/, "UTC").replace("-", "−");
  return utc === name ? utc : `${name}, ${utc}`;
}

const formatters = new Map();

function cached(kind, options) {
  const key = `${kind}|${locale()}|${zoneName()}|${JSON.stringify(options)}`;
  let formatter = formatters.get(key);
  if (!formatter) {
    formatter = kind === "number" ? new Intl.NumberFormat(locale(), options)
      : kind === "relative" ? new Intl.RelativeTimeFormat(locale(), options)
        : new Intl.DateTimeFormat(locale(), { timeZone: zoneName(), ...options });
    formatters.set(key, formatter);
  }
  return formatter;
}

const DASH = "—";
const missing = (value) => value == null || Number.isNaN(value);

export function int(value) {
  return missing(value) ? DASH : cached("number", { maximumFractionDigits: 0 }).format(value);
}

export function decimal(value, digits = 2) {
  return missing(value) ? DASH : cached("number", { maximumFractionDigits: digits }).format(value);
}

/** 999, 1.2K, 3.4M (1.2万 in Chinese), 0.0035: for cards, axes and tables. */
export function compact(value) {
  if (missing(value)) return DASH;
  const size = Math.abs(value);
  if (size >= 1000) return cached("number", { notation: "compact", maximumFractionDigits: 1 }).format(value);
  if (size > 0 && size < 1) return cached("number", { maximumSignificantDigits: 2 }).format(value);
  return decimal(value, size < 10 ? 2 : 1);
}

/** $12.35, and below a dollar always four decimals ($0.0500, $0.0275, $0.7530), so that
 * amounts in a column line up and compare at a glance; $0.00 for nothing. */
export function usd(value) {
  if (missing(value)) return DASH;
  const digits = value !== 0 && Math.abs(value) < 1 ? 4 : 2;
  return cached("number", { style: "currency", currency: "USD", minimumFractionDigits: digits, maximumFractionDigits: digits })
    .format(value);
}

/** An amount in any ISO 4217 currency (a plan's price). */
export function money(value, currency) {
  if (missing(value)) return DASH;
  return cached("number", { style: "currency", currency, minimumFractionDigits: Number.isInteger(value) ? 0 : 2,
    maximumFractionDigits: 2 }).format(value);
}

/** A month YYYY-MM as words ("November 2026"). */
export function month(text) {
  const [year, number] = text.split("-").map(Number);
  return new Intl.DateTimeFormat(locale(), { timeZone: "UTC", year: "numeric", month: "long" })
    .format(new Date(Date.UTC(year, number - 1, 15)));
}

export function usdCompact(value) {
  if (missing(value)) return DASH;
  if (Math.abs(value) < 1000) return usd(value);
  return cached("number", { style: "currency", currency: "USD", notation: "compact", maximumFractionDigits: 1 })
    .format(value);
}

export function percent(ratio) {
  return missing(ratio) ? DASH : cached("number", { style: "percent", maximumFractionDigits: 1 }).format(ratio);
}

/** 850ms, 3.2s, then whole units: 1m 6s, 1h 5m (not "1.1m"). */
export function duration(ms) {
  if (missing(ms)) return DASH;
  const unit = (value, name, digits = 0) => cached("number", { style: "unit", unit: name, unitDisplay: "narrow",
    maximumFractionDigits: digits }).format(value);
  if (ms < 1000) return unit(ms, "millisecond");
  if (ms < 60_000) return unit(ms / 1000, "second", 1);
  const seconds = Math.round(ms / 1000);
  const [big, small, bigName, smallName] = seconds < 3600 ? [Math.floor(seconds / 60), seconds % 60, "minute", "second"]
    : [Math.floor(seconds / 3600), Math.floor((seconds % 3600) / 60), "hour", "minute"];
  return small ? `${unit(big, bigName)} ${unit(small, smallName)}` : unit(big, bigName);
}

const asMs = (when) => (typeof when === "number" ? when : Date.parse(when));

export function dateTime(when, withSeconds = true) {
  if (missing(when)) return DASH;
  return cached("date", { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
    second: withSeconds ? "2-digit" : undefined, hourCycle: "h23" }).format(asMs(when));
}

export function time(when) {
  return cached("date", { hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).format(asMs(when));
}

export function shortDate(when) {
  return cached("date", { month: "short", day: "numeric" }).format(asMs(when));
}

export function monthName(when) {
  return cached("date", { month: "short" }).format(asMs(when));
}

export function weekday(when) {
  return cached("date", { weekday: "short" }).format(asMs(when));
}

/** A "YYYY-MM-DD" local date as the language writes it (the date is taken as is, not shifted). */
export function calendarDate(text) {
  return cached("date", { year: "numeric", month: "short", day: "numeric", weekday: "short", timeZone: "UTC" })
    .format(Date.parse(`${text}T00:00:00Z`));
}

export function ago(when) {
  if (missing(when)) return t("never");
  const seconds = Math.round((asMs(when) - Date.now()) / 1000);
  const relative = cached("relative", { numeric: "auto" });
  for (const [unit, size] of [["day", 86400], ["hour", 3600], ["minute", 60]]) {
    if (Math.abs(seconds) >= size) return relative.format(Math.round(seconds / size), unit);
  }
  return relative.format(seconds, "second");
}

export function whenAndAgo(when) {
  return missing(when) ? t("never") : `${dateTime(when)} (${ago(when)})`;
}

/** The wall-clock fields of an instant in the zone times are shown in. A month's grid asks
 * for thousands: within six hours whose ends have the same UTC offset (no zone changes its
 * offset twice in six hours) they come from that offset, without Intl. */
export function localParts(when) {
  const ms = asMs(when);
  const window = Math.floor(ms / SIX_HOURS);
  const key = `${zoneName()}|${window}`;
  let offset = offsets.get(key);
  if (offset === undefined) {
    const start = offsetOf(intlParts(window * SIX_HOURS), window * SIX_HOURS);
    const end = offsetOf(intlParts((window + 1) * SIX_HOURS - 1000), (window + 1) * SIX_HOURS - 1000);
    offset = start === end ? start : null;
    if (offsets.size > 10_000) offsets.clear();
    offsets.set(key, offset);
  }
  if (offset === null) return intlParts(ms);
  const wall = new Date(ms - (ms % 1000) + offset);
  return { year: wall.getUTCFullYear(), month: wall.getUTCMonth() + 1, day: wall.getUTCDate(), hour: wall.getUTCHours(),
    minute: wall.getUTCMinutes(), second: wall.getUTCSeconds() };
}

const SIX_HOURS = 6 * 3_600_000;
const offsets = new Map(); // "zone|six-hour window": its UTC offset in ms, null where it changes

function intlParts(ms) {
  const parts = {};
  for (const { type, value } of cached("date", { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit",
    minute: "2-digit", second: "2-digit", hourCycle: "h23" }).formatToParts(ms)) {
    if (type !== "literal") parts[type] = Number(value);
  }
  return parts;
}

function offsetOf(p, ms) {
  return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - (ms - (ms % 1000));
}

function offsetAt(ms) {
  return offsetOf(localParts(ms), ms);
}

/** "YYYY-MM-DDTHH:MM" in the zone times are shown in (a datetime-local value) as epoch ms. */
export function instantOfLocal(text) {
  const [date, clock = "00:00"] = text.split("T");
  const [year, month, day] = date.split("-").map(Number);
  const [hour, minute] = clock.split(":").map(Number);
  const wall = Date.UTC(year, month - 1, day, hour, minute);
  const first = wall - offsetAt(wall);
  return wall - offsetAt(first);
}

/** Epoch ms as "YYYY-MM-DDTHH:MM" in the zone times are shown in (for a datetime-local input). */
export function localInputValue(ms) {
  const p = localParts(ms);
  const two = (n) => String(n).padStart(2, "0");
  return `${p.year}-${two(p.month)}-${two(p.day)}T${two(p.hour)}:${two(p.minute)}`;
}

/** A client key as the API shows it ({api_key (masked), alias}): "alias (sk-te…7f3c)". */
export function keyLabel(item) {
  return item.alias ? `${item.alias} (${item.api_key})` : item.api_key;
}
