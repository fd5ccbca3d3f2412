// Charts drawn by uPlot (static/vendor/uplot: window.uPlot, a script loaded beside the modules).
// Colours come from the theme's CSS variables; every chart follows its container's width.

import * as fmt from "./format.js";
import { t } from "./i18n.js";

const live = new Set();

/** Settled once uPlot is there. It loads async, beside the modules, so that its 20-25 ms
 * of evaluation are spent while the first answers are on their way, not before the first
 * request (a view is built once this and its data are in: show() in app.js). */
export const chartsReady = new Promise((resolve, reject) => {
  if (window.uPlot) return resolve();
  const script = document.querySelector('script[src$="uplot-iife-min.js"]');
  script.addEventListener("load", () => resolve());
  script.addEventListener("error", () => reject(new Error(`${script.src}: not loaded`)));
});

/** Destroy the charts of the previous view (before a view is painted again). */
export function destroyCharts() {
  for (const chart of [...live]) chart.destroy();
}

const themes = new Map(); // theme: {name: colour}

/** Every custom property of the stylesheets as the current theme sets it, read in one go:
 * a read of the computed style after the page changed recalculates every style, which a
 * read per colour did dozens of times while a view was being built (50-75 ms a month's
 * Overview). The shell reads them before it builds a view (paint). */
export function readThemeColors() {
  const theme = document.documentElement.dataset.theme;
  if (themes.has(theme)) return themes.get(theme);
  const names = new Set();
  for (const sheet of document.styleSheets) {
    for (const rule of sheet.cssRules) {
      for (const property of rule.style || []) if (property.startsWith("--")) names.add(property);
    }
  }
  const style = getComputedStyle(document.documentElement);
  const colors = Object.fromEntries([...names].map((name) => [name.slice(2), style.getPropertyValue(name).trim()]));
  themes.set(theme, colors);
  return colors;
}

/** A colour of the current theme (a CSS custom property of :root). */
export function color(name) {
  return readThemeColors()[name] ?? getComputedStyle(document.documentElement).getPropertyValue(`--${name}`).trim();
}

function translucent(hex, alpha) {
  return `${hex}${Math.round(alpha * 255).toString(16).padStart(2, "0")}`;
}

let waiting = null; // while withCharts builds a view: the charts to make once it is built

/**
 * Builds a view (``build()``) whose charts are made after it: the width of each chart is
 * read before it is made, and a read after another chart was added lays the page out
 * again, the whole view (a month's Overview: 60-140 ms for its seven charts). Here all
 * widths are read in one layout, then every chart is made.
 */
export function withCharts(build) {
  waiting = [];
  try {
    build();
  } finally {
    const made = waiting;
    waiting = null;
    const widths = made.map(({ element }) => chartWidth(element));
    made.forEach(({ make }, i) => make(widths[i]));
  }
}

function chartWidth(element) {
  return Math.max(120, Math.floor(element.clientWidth));
}

/** A uPlot chart that follows the width of ``element``; returns {destroy}. Inside
 * withCharts it is made when the view is built. */
function mount(element, options, data) {
  let chart = null;
  let observer = null;
  const handle = {
    destroy() {
      observer?.disconnect();
      chart?.destroy();
      live.delete(handle);
    },
  };
  const make = (width) => {
    if (!live.has(handle)) return; // destroyed before it was made
    let lastWidth = width;
    chart = new uPlot({ ...options, width }, data, element);
    observer = new ResizeObserver(() => {
      if (chartWidth(element) !== lastWidth) {
        lastWidth = chartWidth(element);
        chart.setSize({ width: lastWidth, height: options.height });
      }
    });
    observer.observe(element);
  };
  live.add(handle);
  if (waiting) {
    waiting.push({ element, make });
  } else {
    make(chartWidth(element));
  }
  return handle;
}

function axis(values, extra = {}) {
  const grid = color("line");
  return { stroke: color("muted"), grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1, size: 4 },
    font: "11px system-ui, sans-serif", values, ...extra };
}

/** A small line with its area, no axes: the trend under a card's number. */
export function sparkline(element, xs, ys, stroke) {
  mount(element, {
    height: 38, padding: [3, 1, 1, 1], legend: { show: false }, cursor: { show: false }, select: { show: false },
    scales: { x: { time: false }, y: { range: (u, min, max) => [Math.min(0, min ?? 0), Math.max(max ?? 0, 1e-9)] } },
    axes: [{ show: false }, { show: false }],
    series: [{}, { stroke, fill: translucent(stroke, 0.18), width: 1.5, points: { show: false }, spanGaps: true }],
  }, [xs, ys]);
}

/** Draw order and heights of stacked series: each bar is drawn at its cumulative height,
 * the top of the stack first, so the lower ones paint over it. */
function stack(series) {
  const sums = [];
  series.forEach((one, i) => {
    sums.push(one.values.map((value, j) => (value ?? 0) + (i ? sums[i - 1][j] : 0)));
  });
  return series.map((one, i) => ({ ...one, drawn: sums[i] })).reverse();
}

function barSeries(one, format, paths) {
  return {
    label: one.label, stroke: one.color, fill: one.color, width: 0, paths,
    points: { show: false },
    value: (u, v, si, index) => (index == null ? "—" : format(one.values[index])),
  };
}

const DAY_S = 86400;

function isMidnight(seconds) {
  const { hour, minute } = fmt.localParts(seconds * 1000);
  return hour === 0 && minute === 0;
}

/** Ticks thinned to one label per ~70 px, counted back from the newest. */
function thinned(ticks) {
  return (u) => {
    const every = Math.max(1, Math.ceil((ticks.length * 70) / Math.max(u.bbox.width / devicePixelRatio, 1)));
    return ticks.filter((_, i) => (ticks.length - 1 - i) % every === 0);
  };
}

/**
 * The time axis of bars starting at ``seconds``, ``step`` wide: {values, splits}. Up to
 * three days, uPlot's ticks labelled by the hour (the date at midnight); beyond, and for
 * daily bars, ticks at local midnights labelled by the date, so that a date is written
 * once ("Dec 1 Dec 1 Dec 1" was each 8 hours of one day).
 */
export function timeAxis(seconds, step) {
  const span = seconds.length ? seconds[seconds.length - 1] - seconds[0] + step : 0;
  const byDate = step >= DAY_S || span > 3 * DAY_S;
  const values = (u, splits) => splits.map((s) => (byDate || isMidnight(s) ? fmt.shortDate(s * 1000) : fmt.time(s * 1000)));
  if (!byDate) return { values };
  return { values, splits: thinned(step >= DAY_S ? seconds : seconds.filter(isMidnight)) };
}

/** The bucket under ``x`` (seconds): the last of ``starts`` at or before it. A bar spans
 * [start, start + step), so the nearest start, uPlot's default, is the next bucket's
 * over the right half of a bar. */
export function bucketAt(starts, x) {
  let low = 0;
  let high = starts.length - 1;
  while (low < high) {
    const middle = (low + high + 1) >> 1;
    if (starts[middle] <= x) low = middle;
    else high = middle - 1;
  }
  return starts.length ? low : null;
}

/** Steps of a count axis: whole numbers only. */
const WHOLE_STEPS = [1, 2, 5].flatMap((m) => Array.from({ length: 13 }, (_, e) => m * 10 ** e)).sort((a, b) => a - b);

function valueAxis(format, integer, extra) {
  return axis((u, splits) => splits.map(format), { size: 64, ...(integer ? { incrs: WHOLE_STEPS } : {}), ...extra });
}

/** The legend shows values only under the cursor; idle, it is a key of the series. */
const idleLegend = { setLegend: [(u) => u.root.classList.toggle("idle", u.legend.idx == null)] };

/**
 * Stacked bars over time. xs: bucket starts in epoch ms; step: bucket width in seconds;
 * series: [{label, values, color}] from the bottom of the stack up; format: values as text.
 */
export function timeBars(element, { xs, step, series, format, axisFormat = format, integer = false, height = 220, label,
  compare = null }) {
  const seconds = xs.map((x) => x / 1000);
  const drawn = stack(series);
  const { values, splits } = timeAxis(seconds, step);
  describeChart(element, label, xs, step, series, format);
  return mount(element, {
    height,
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), fmt.zoneName()),
    cursor: { points: { show: false }, drag: { x: false, y: false }, dataIdx: (u, si, closest, x) => bucketAt(seconds, x) },
    select: { show: false },
    scales: { x: { time: true, range: (u, min, max) => [min, max + step] }, y: { range: (u, min, max) => [0, Math.max(max, 1)] } },
    axes: [axis(values, splits ? { splits } : {}), valueAxis(axisFormat, integer)],
    hooks: idleLegend,
    series: [{ label: t("time"), value: (u, v) => (v == null ? "—" : step >= 86400 ? fmt.shortDate(v * 1000) : fmt.dateTime(v * 1000, false)) },
      ...drawn.map((one) => barSeries(one, format, uPlot.paths.bars({ size: [0.8, 48, 1], align: 1, gap: 1 }))),
      ...(compare ? [{ label: compare.label, stroke: compare.color, width: 2, dash: [5, 3], points: { show: false },
        paths: uPlot.paths.stepped({ align: 1 }), value: (u, v, si, index) => (index == null ? "—" : format(compare.values[index])) }]
        : [])],
  }, [seconds, ...drawn.map((one) => one.drawn), ...(compare ? [compare.values] : [])]);
}

/**
 * Lines over time, for values that do not add up (percentiles): xs: bucket starts in epoch
 * ms; step: bucket width in seconds; series: [{label, values, color}], a missing value a
 * gap; each value is drawn in the middle of its bucket.
 */
export function timeLines(element, { xs, step, series, format, axisFormat = format, height = 220, label }) {
  const seconds = xs.map((x) => x / 1000);
  const { values, splits } = timeAxis(seconds, step);
  describeLines(element, label, xs, step, series, format);
  const when = (v) => (step >= DAY_S ? fmt.shortDate((v - step / 2) * 1000) : fmt.dateTime((v - step / 2) * 1000, false));
  return mount(element, {
    height,
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), fmt.zoneName()),
    cursor: { drag: { x: false, y: false }, dataIdx: (u, si, closest, x) => bucketAt(seconds, x - step / 2) },
    select: { show: false },
    scales: { x: { time: true, range: (u, min, max) => [min - step / 2, max + step / 2] },
      y: { range: (u, min, max) => [0, Math.max(max ?? 0, 1)] } },
    axes: [axis(values, splits ? { splits } : {}), valueAxis(axisFormat, false)],
    hooks: idleLegend,
    series: [{ label: t("time"), value: (u, v) => (v == null ? "—" : when(v)) },
      ...series.map((one) => ({ label: one.label, stroke: one.color, width: 2, points: { show: true, size: 5, fill: one.color },
        value: (u, v) => (v == null ? "—" : format(v)) }))],
  }, [seconds.map((s) => s + step / 2), ...series.map((one) => one.values)]);
}

/** A line chart's text alternative: its buckets, and each series' lowest and highest value. */
function describeLines(element, label, xs, step, series, format) {
  const when = (ms) => (step >= DAY_S ? fmt.shortDate(ms) : `${fmt.shortDate(ms)} ${fmt.time(ms)}`);
  const ranges = series.map((one) => {
    const known = one.values.filter((value) => value != null);
    return known.length ? t("line_range", { label: one.label, low: format(Math.min(...known)), high: format(Math.max(...known)) })
      : t("line_none", { label: one.label });
  });
  element.setAttribute("role", "img");
  element.setAttribute("aria-label", t("lines_alt", { chart: label, n: xs.length, first: xs.length ? when(xs[0]) : "—",
    last: xs.length ? when(xs[xs.length - 1]) : "—", ranges: ranges.join(", ") }));
}

/** The chart's text alternative (a canvas says nothing to a screen reader): what it
 * shows, over which buckets, each series' total and the busiest bucket. */
function describeChart(element, label, xs, step, series, format) {
  const when = (ms) => (step >= DAY_S ? fmt.shortDate(ms) : `${fmt.shortDate(ms)} ${fmt.time(ms)}`);
  const totals = series.map((one) => ({ label: one.label, sum: one.values.reduce((a, b) => a + (b ?? 0), 0) }));
  const sums = xs.map((_, i) => series.reduce((a, one) => a + (one.values[i] ?? 0), 0));
  const busiest = sums.indexOf(Math.max(...sums));
  element.setAttribute("role", "img");
  element.setAttribute("aria-label", t("chart_alt", {
    chart: label, n: xs.length, first: xs.length ? when(xs[0]) : "—", last: xs.length ? when(xs[xs.length - 1]) : "—",
    totals: totals.map((one) => `${one.label} ${format(one.sum)}`).join(", "),
    busiest: busiest >= 0 && sums[busiest] > 0 ? when(xs[busiest]) : "—",
  }));
}

/** Whether every value of every series is zero or missing: a chart of nothing. */
export function allZero(series) {
  return series.every((one) => one.values.every((value) => !value));
}

function textWidth(texts) {
  const context = document.createElement("canvas").getContext("2d");
  context.font = "11px system-ui, sans-serif";
  return Math.max(0, ...texts.map((text) => context.measureText(text).width));
}

/** Horizontal bars, one per named row (the top rows of a table), stacked like timeBars. */
export function categoryBars(element, { labels, series, format, axisFormat = format, integer = false, label }) {
  const xs = labels.map((_, i) => i);
  const drawn = stack(series);
  element.setAttribute("role", "img");
  element.setAttribute("aria-label", t("bars_alt", { chart: label, rows: labels.map((name, i) =>
    `${name}: ${series.map((one) => `${one.label} ${format(one.values[i] ?? 0)}`).join(", ")}`).join("; ") }));
  const short = (text) => (text.length > 22 ? `${text.slice(0, 21)}…` : text);
  const names = labels.map(short);
  return mount(element, {
    height: 56 + 30 * labels.length,
    cursor: { points: { show: false }, drag: { x: false, y: false } },
    select: { show: false },
    scales: { x: { time: false, ori: 1, dir: -1, range: () => [-0.5, labels.length - 0.5] },
      // a count's axis reaches 1 at least; an amount's (cents of USD) only its largest bar
      y: { ori: 0, range: (u, min, max) => [0, Math.max(max, integer ? 1 : 1e-9)] } },
    axes: [axis((u, splits) => splits.map((i) => names[i] ?? ""), { side: 3, splits: () => xs, grid: { show: false },
      size: Math.min(textWidth(names) + 14, element.clientWidth * 0.45) }),
    valueAxis(axisFormat, integer, { side: 2, size: 36, space: 70 })],
    hooks: idleLegend,
    series: [{ label: t("name"), value: (u, v) => (v == null ? "—" : labels[v]) },
      ...drawn.map((one) => barSeries(one, format, uPlot.paths.bars({ size: [0.7, 22], align: 0 })))],
  }, [xs, ...drawn.map((one) => one.drawn)]);
}

export const METRICS = ["requests", "tokens", "cost"];
const TOKEN_KINDS = ["input", "cache_read", "cache_write", "output"];

/** The series of one metric over rows of usage totals (hours, days, or table rows). */
export function metricSeries(metric, rows) {
  if (metric === "requests") {
    return { format: fmt.int, axisFormat: fmt.compact, integer: true, series: [
      { label: t("success"), values: rows.map((row) => row.success), color: color("ok") },
      { label: t("failed"), values: rows.map((row) => row.failed), color: color("bad") }] };
  }
  if (metric === "tokens") {
    return { format: fmt.int, axisFormat: fmt.compact, integer: true, series: TOKEN_KINDS.map((kind) => (
      { label: t(kind), values: rows.map((row) => row.tokens[kind]), color: color(`k-${kind}`) })) };
  }
  return { format: fmt.usd, axisFormat: fmt.usdCompact,
    series: [{ label: t("cost"), values: rows.map((row) => row.cost.usd), color: color("chart-3") }] };
}
