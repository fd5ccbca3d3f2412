// Health: a year of days as a heatmap; a picked day opens as 5-minute cells.

import { api } from "../api.js";
import { metricSeries, timeBars } from "../charts.js";
import { card, h, note } from "../dom.js";
import * as fmt from "../format.js";
import { cellGrid, cellTip, healthClass, legend } from "../grid.js";
import { t } from "../i18n.js";
import { apiParams } from "../state.js";

const FIVE_MINUTES_MS = 300_000;
let pickedDay = null; // the day just picked: the new heatmap takes the focus back on it

export default {
  range: null,
  filters: true,
  load(params) {
    return api.get("usage/health", apiParams(params, this, { day: params.get("day") }));
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
    if (!data.day) {
      root.append(note(t("pick_a_day")));
      return;
    }
    const chart = h("div", { class: "chart", id: "day-chart" });
    const close = h("button", { type: "button", class: "link", onclick: () => go({ day: null }, true) }, t("close_day"));
    root.append(card(fmt.calendarDate(data.day.date), [daySummary(data.day.cells), dayGrid(data.day.cells), legend(), chart],
      { wide: true, id: "day", actions: close }));
    const cells = data.day.cells.map((cell) => ({ ...cell, success: cell.requests - cell.failed }));
    timeBars(chart, { xs: cells.map((cell) => cell.start_ms), step: 300, height: 180,
      label: `${fmt.calendarDate(data.day.date)}: ${t("requests")}`, ...metricSeries("requests", cells) });
    document.getElementById("day").scrollIntoView({ block: "nearest" });
  },
};

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
