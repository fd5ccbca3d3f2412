// Health: a year of days as a heatmap; a picked day opens as 5-minute cells. Then speed:
// latency and TTFT percentiles over time, and per model and per credential, in the range.

import { api } from "../api.js";
import { color, metricSeries, timeBars, timeLines } from "../charts.js";
import { card, dataTable, h, note } from "../dom.js";
import * as fmt from "../format.js";
import { cellGrid, cellTip, healthClass, legend } from "../grid.js";
import { t } from "../i18n.js";
import { apiParams } from "../state.js";

const FIVE_MINUTES_MS = 300_000;
const PERCENTILES = ["p50", "p95", "p99"];
let pickedDay = null; // the day just picked: the new heatmap takes the focus back on it

export default {
  range: "24h", // the latency's; the year and the day are what they say
  filters: true,
  async load(params) {
    const [health, latency] = await Promise.all([
      api.get("usage/health", apiParams(params, { filters: true }, { day: params.get("day") })),
      api.get("usage/latency", apiParams(params, this))]);
    return { ...health, latency };
  },
  render(root, data, { go }) {
    const pick = (date) => {
      pickedDay = date;
      go({ day: date }, true);
    };
    const heatmap = yearHeatmap(data.year, pick, pickedDay);
    root.append(card(t("year"), [yearSummary(data.year), heatmap, yearLegend()], { wide: true, id: "year" }));
    heatmap.scrollLeft = heatmap.scrollWidth; // on a phone, the recent months first
    if (pickedDay) { // the grid that had the focus was painted again: the focus goes on from the picked day
      heatmap.querySelector(".cellgrid").focus({ preventScroll: true });
      pickedDay = null;
    }
    if (data.day) dayCard(root, data.day, go);
    else root.append(note(t("pick_a_day")));
    latencyCards(root, data.latency);
  },
};

function dayCard(root, day, go) {
  const chart = h("div", { class: "chart", id: "day-chart" });
  const close = h("button", { type: "button", class: "link", onclick: () => go({ day: null }, true) }, t("close_day"));
  root.append(card(fmt.calendarDate(day.date), [daySummary(day.cells), dayGrid(day.cells), legend(), chart],
    { wide: true, id: "day", actions: close }));
  const cells = day.cells.map((cell) => ({ ...cell, success: cell.requests - cell.failed }));
  timeBars(chart, { xs: cells.map((cell) => cell.start_ms), step: 300, height: 180,
    label: `${fmt.calendarDate(day.date)}: ${t("requests")}`, ...metricSeries("requests", cells) });
  document.getElementById("day").scrollIntoView({ block: "nearest" });
}

/** Latency and TTFT: p50, p95 and p99 over time (a chart each), then per model and per
 * credential (the owner's: a member's answer has none). */
function latencyCards(root, latency) {
  const { summary, series } = latency;
  const step = series.step === "day" ? 86400 : 3600;
  const charts = ["latency", "ttft"].map((metric) => {
    const chart = h("div", { class: "chart", id: `${metric}-chart` });
    root.append(card(t(`${metric}_percentiles`), [percentileSummary(summary[metric]),
      summary[metric].count ? chart : note(t("no_latency"))], { wide: true, id: metric }));
    return { metric, chart };
  });
  root.append(card(t("latency_by_model"), latencyTable(latency.models, t("model"), (row) => h("code", {}, row.model),
    "latency-models"), { wide: true, id: "latency-by-model" }));
  if (latency.credentials) {
    root.append(card(t("latency_by_credential"), latencyTable(latency.credentials, t("credential"),
      (row) => h("span", { title: row.auth_index }, row.source), "latency-credentials"), { wide: true, id: "latency-by-credential" }));
  }
  for (const { metric, chart } of charts.filter((one) => summary[one.metric].count)) {
    timeLines(chart, { xs: series.points.map((point) => point.start_ms), step, height: 200, format: fmt.duration,
      label: t(`${metric}_percentiles`), series: PERCENTILES.map((p, i) => ({ label: p,
        values: series.points.map((point) => point[metric][p]), color: color(["chart-1", "warn", "bad"][i]) })) });
  }
}

function percentileSummary(percentiles) {
  if (!percentiles.count) return null;
  return h("p", { class: "summary" }, t("percentiles_of", { p50: fmt.duration(percentiles.p50),
    p95: fmt.duration(percentiles.p95), p99: fmt.duration(percentiles.p99), n: fmt.int(percentiles.count),
    count: percentiles.count }), h("span", { class: "muted" }, ` ${t("percentiles_bound")}`));
}

function latencyTable(rows, nameLabel, name, id) {
  if (!rows.length) return note(t("no_latency"));
  const columns = [{ label: nameLabel, value: name, wrap: true },
    ...["latency", "ttft"].flatMap((metric) => [
      { label: t(`${metric}_measured`), num: true, value: (row) => fmt.int(row[metric].count) },
      ...PERCENTILES.map((p) => ({ label: t(`${metric}_p`, { p }), num: true, value: (row) => fmt.duration(row[metric][p]) }))])];
  return dataTable(columns, rows, { id, cards: true, caption: nameLabel });
}

function sum(cells, field) {
  return cells.reduce((total, cell) => total + cell[field], 0);
}

function yearSummary(days) {
  const busiest = days.reduce((best, day) => (day.requests > (best?.requests ?? 0) ? day : best), null);
  return h("p", { class: "summary" },
    t("year_summary", { requests: fmt.int(sum(days, "requests")), failed: fmt.int(sum(days, "failed")),
      active: fmt.int(days.filter((day) => day.requests).length) }),
    busiest ? ` ${t("busiest_day", { day: fmt.calendarDate(busiest.date), n: fmt.int(busiest.requests) })}` : "");
}

function daySummary(cells) {
  const requests = sum(cells, "requests");
  const failed = sum(cells, "failed");
  return h("p", { class: "summary" }, t("n_requests", { n: fmt.int(requests), count: requests }), " · ",
    h("span", { class: failed ? "bad" : "" }, t("n_failed", { n: fmt.int(failed) })),
    requests ? ` · ${t("success_rate_is", { rate: fmt.percent((requests - failed) / requests) })}` : "");
}

/** Weeks as columns, Monday on top (like a contribution calendar); volume is colour. */
function yearHeatmap(days, pick, focusDay) {
  const offset = (new Date(`${days[0].date}T00:00:00Z`).getUTCDay() + 6) % 7;
  const busiest = Math.max(1, ...days.map((day) => day.requests));
  const colLabels = [];
  const cells = days.map((day, index) => {
    const place = index + offset;
    const col = Math.floor(place / 7);
    if (day.date.endsWith("-01")) colLabels.push({ col, span: 4, text: fmt.monthName(day.start_ms) });
    const level = day.requests ? Math.min(4, Math.ceil((4 * day.requests) / busiest)) : 0;
    const failing = day.requests && day.failed / day.requests >= 0.1;
    return { row: place % 7, col, date: day.date, cls: `v${level}${failing ? " failing" : ""}`,
      tip: () => cellTip(fmt.calendarDate(day.date), day.requests, day.failed) };
  });
  const weekdays = [0, 1, 2, 3, 4, 5, 6].map((i) => (i % 2 ? "" : fmt.weekday(Date.UTC(2024, 0, 1 + i))));
  const grid = cellGrid({ label: t("year"), rows: weekdays, columns: Math.ceil((days.length + offset) / 7), cells,
    colLabels, fixed: true, onPick: (cell) => pick(cell.date), focusOn: focusDay && ((cell) => cell.date === focusDay) });
  return h("div", { class: "scroll-x" }, grid);
}

function yearLegend() {
  return h("div", { class: "legend" }, h("span", {}, t("less")),
    [0, 1, 2, 3, 4].map((level) => h("i", { class: `cell v${level}`, "aria-hidden": "true" })),
    h("span", {}, t("more")),
    h("span", {}, h("i", { class: "cell v2 failing", "aria-hidden": "true" }), t("legend_failing")),
    h("span", { class: "muted" }, t("pick_hint")));
}

/** Hours as columns, 5-minute slots as rows. */
function dayGrid(cells) {
  const busiest = Math.max(...cells.map((cell) => cell.requests));
  const placed = cells.map((cell) => {
    const local = fmt.localParts(cell.start_ms);
    const when = `${fmt.time(cell.start_ms)}–${fmt.time(cell.start_ms + FIVE_MINUTES_MS)}`;
    return { row: Math.floor(local.minute / 5), col: local.hour, cls: healthClass(cell.requests, cell.failed, busiest),
      tip: () => cellTip(when, cell.requests, cell.failed) };
  });
  const rows = Array.from({ length: 12 }, (_, slot) => (slot % 3 ? "" : `:${String(slot * 5).padStart(2, "0")}`));
  const colLabels = Array.from({ length: 8 }, (_, i) => ({ col: i * 3, span: 3, text: String(i * 3).padStart(2, "0") }));
  return h("div", { class: "scroll-x" }, cellGrid({ label: t("day_detail"), rows, columns: 24, cells: placed, colLabels, fixed: true }));
}
