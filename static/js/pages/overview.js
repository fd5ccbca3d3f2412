// Overview: cards with sparklines, the budget of the key in view, hourly and daily charts,
// the 15-minute health grid.

import { api } from "../api.js";
import { activeAlerts, alertTable, budgetMeters } from "../budget.js";
import { allZero, color, metricSeries, METRICS, sparkline, timeBars } from "../charts.js";
import { segmented } from "../controls.js";
import { card, h, note } from "../dom.js";
import * as fmt from "../format.js";
import { cellGrid, cellTip, healthClass, legend } from "../grid.js";
import { t } from "../i18n.js";
import { isMember } from "../session.js";
import { apiParams, hrefFor } from "../state.js";
import { planSentence } from "../usage.js";

const HOUR = 3600;
const DAY = 86400;
const QUARTER_MS = 900_000;

export default {
  range: "24h",
  filters: true,
  async load(params) {
    const [overview, alerts] = await Promise.all([api.get("usage/overview", apiParams(params, this)),
      api.get("alerts", new URLSearchParams({ limit: isMember() ? "20" : "1000" }))]);
    return { ...overview, alerts };
  },
  render(root, data, { params }) {
    const { summary, hourly } = data;
    // A member sees their own alerts here, the owner the active ones (all on the budgets page):
    // today's and this month's in the server's zone, known by now (not always when loaded).
    const alerts = isMember() ? data.alerts : { ...data.alerts, items: activeAlerts(data.alerts.items) };
    const xs = hourly.map((hour) => hour.start_ms);
    const perMinute = (value) => value / 60;
    const cards = [
      stat("requests", t("requests"), fmt.compact(summary.requests), fmt.int(summary.requests), summary.requests ? [
        t("success_rate_is", { rate: fmt.percent(summary.success_rate) }),
        summary.failed ? h("span", { class: "bad" }, t("n_failed", { n: fmt.int(summary.failed) })) : null]
        : [t("no_data")], hourly.map((hour) => hour.requests), "chart-1"),
      stat("tokens", t("tokens"), fmt.compact(summary.tokens.total), fmt.int(summary.tokens.total),
        tokenKinds(summary), hourly.map((hour) => hour.tokens.total), "chart-2"),
      stat("cost", t("cost"), fmt.usd(summary.cost.usd), null, costNote(summary, params),
        hourly.map((hour) => hour.cost.usd), "chart-3"),
      stat("rpm", t("rpm"), fmt.compact(summary.rpm), null, [t("rpm_note")],
        hourly.map((hour) => perMinute(hour.requests)), "chart-4"),
      stat("tpm", t("tpm"), fmt.compact(summary.tpm), fmt.int(summary.tpm), [t("tpm_note")],
        hourly.map((hour) => perMinute(hour.tokens.total)), "chart-5"),
      stat("latency", t("avg_latency"), fmt.duration(summary.avg_latency_ms), null,
        [summary.avg_ttft_ms != null && t("avg_ttft_is", { ttft: fmt.duration(summary.avg_ttft_ms) })],
        hourly.map((hour) => hour.avg_latency_ms), "chart-6"),
    ];
    const series = summary.requests ? seriesCards(data) : null;
    const live = realtimeCard(params, this);
    comparePrevious(data, params, this, cards, series);
    root.append(h("div", { class: "stats" }, cards.map((one) => one.element)),
      ...(data.budget ? [card(t(isMember() ? "your_budget" : "key_budget"), budgetMeters(data.budget),
        { wide: true, id: "budget" })] : []),
      ...(alerts.items.length ? [isMember() ? card(t("your_alerts"), alertTable(alerts), { wide: true, id: "your-alerts" })
        : card(t("active_alerts"), alertTable(alerts), { wide: true, id: "active-alerts",
          actions: h("a", { href: hrefFor("budgets", params) }, t("all_alerts")) })] : []),
      ...(data.plans?.length ? [card(t("plans_this_month"), h("ul", { class: "plan-months" }, data.plans.map((item) =>
        h("li", { dataset: { auth: item.auth_index } }, h("strong", {}, item.label || item.auth_index), ": ",
          planSentence(item.months[0])))), { wide: true, id: "plans",
        actions: h("a", { href: hrefFor("credentials", params) }, t("page_credentials")) })] : []),
      live.element,
      ...(series ? series.cards : [card(t("hourly"), note(t("no_data")), { wide: true })]),
      gridCard(data.health_grid));
    for (const one of cards) sparkline(one.spark, xs.map((x) => x / 1000), one.values, color(one.color));
    series?.draw(METRICS[0]);
    live.start();
  },
};

const LIVE_EVERY_MS = 10_000;

/**
 * The last 60 minutes by the minute, whatever the range: requests (failed ones on top) and
 * the hour's sums, asked for again every 10 s while the page shows it (not while the tab
 * is hidden); the filters apply, the range does not.
 */
function realtimeCard(params, page) {
  const summary = h("p", { class: "summary", id: "live-summary" }, t("loading"));
  const chart = h("div", { class: "chart", id: "live-chart" });
  const element = card(t("live_title"), [summary, chart], { wide: true, id: "live" });
  const query = apiParams(params, page);
  for (const key of ["range", "start", "end"]) query.delete(key);
  let drawn = null;
  const refresh = async () => {
    if (!element.isConnected) return;
    if (!document.hidden) {
      try {
        const answer = await api.get("usage/realtime", query);
        if (!element.isConnected) return;
        summary.textContent = t("live_summary", { requests: fmt.int(answer.requests), count: answer.requests,
          failed: fmt.int(answer.failed), tokens: fmt.compact(answer.tokens) });
        const rows = answer.minutes.map((minute) => ({ ...minute, success: minute.requests - minute.failed }));
        drawn?.destroy();
        drawn = timeBars(chart, { xs: rows.map((row) => row.start_ms), step: 60, height: 140, label: t("live_title"),
          ...metricSeries("requests", rows) });
      } catch (error) {
        if (!element.isConnected) return;
        summary.textContent = t("live_failed", { error: error.message });
      }
    }
    setTimeout(refresh, LIVE_EVERY_MS);
  };
  return { element, start: refresh };
}

/** The hourly and daily charts, one metric at a time (switched without a reload); draw()
 * once the cards are in the page: a chart takes its container's width. By day only from
 * three days on: a shorter range is one or two part-days, which the hours show. A metric
 * that is zero throughout is said, not drawn. */
function seriesCards(data) {
  const charts = [{ title: t("hourly"), rows: data.hourly, step: HOUR, id: "hourly-chart", key: "hourly" }];
  if (data.daily.length >= 3) charts.push({ title: t("daily"), rows: data.daily, step: DAY, id: "daily-chart", key: "daily" });
  for (const chart of charts) chart.box = h("div", { class: "chart-box" });
  let drawn = [];
  let metric = METRICS[0];
  let previous = null; // the previous period's answer, once it came
  let comparing = false;
  const draw = (chosen) => {
    metric = chosen;
    for (const chart of drawn) chart.destroy();
    drawn = [];
    for (const { title, rows, step, id, box, key } of charts) {
      const series = metricSeries(metric, rows);
      if (allZero(series.series)) {
        box.replaceChildren(note(t("nothing_to_chart", { metric: t(metric).toLowerCase() })));
        continue;
      }
      const element = h("div", { class: "chart", id });
      box.replaceChildren(element);
      const compare = comparing && previous ? previousLine(metricSeries(metric, previous[key]), rows.length) : null;
      drawn.push(timeBars(element, { xs: rows.map((row) => row.start_ms), step, label: `${title}: ${t(metric)}`, compare,
        ...series }));
    }
    picker.set(metric);
  };
  const picker = segmented({ id: "chart-metric", label: t("chart_metric"),
    options: METRICS.map((name) => ({ value: name, text: t(name) })), onChange: draw });
  const toggle = h("button", { type: "button", id: "compare", "aria-pressed": "false", disabled: true, onclick: () => {
    comparing = !comparing;
    toggle.setAttribute("aria-pressed", String(comparing));
    draw(metric);
  } }, t("compare_previous"));
  const offerPrevious = (answer) => {
    previous = answer;
    toggle.disabled = false;
  };
  return { draw, offerPrevious, cards: charts.map(({ title, box }, i) => card(title, box, { wide: true,
    actions: i ? null : h("div", { class: "actions" }, toggle, picker.element) })) };
}

/** The previous period's totals per bucket, as a line beside the bars: bucket i of this
 * period against bucket i of that one, counted from the end (their lengths may differ by
 * a DST hour or a part-day). */
function previousLine({ series, format }, length) {
  const totals = series[0].values.map((_, i) => series.reduce((sum, one) => sum + (one.values[i] ?? 0), 0));
  const values = Array.from({ length }, (_, i) => totals[totals.length - length + i] ?? null);
  return { label: t("previous_period"), values, color: color("muted"), format };
}

function stat(id, label, value, exact, notes, values, colorName) {
  const spark = h("div", { class: "spark", "aria-hidden": "true" });
  const number = h("div", { class: "value", title: exact }, value);
  number.style.setProperty("--chars", String(Math.max(7, value.length))); // a long one is set smaller, not cut
  const delta = h("div", { class: "delta muted" });
  const element = h("section", { class: "stat card", id: `card-${id}` },
    h("h2", {}, label),
    number,
    delta,
    h("div", { class: "sub" }, notes.filter(Boolean).map((part) => h("span", {}, part))),
    spark);
  return { id, element, spark, delta, values, color: colorName };
}

// What each card compares with the previous period (a summary's figure by card id).
const COMPARED = {
  requests: (summary) => summary.requests, tokens: (summary) => summary.tokens.total, cost: (summary) => summary.cost.usd,
  rpm: (summary) => summary.rpm, tpm: (summary) => summary.tpm, latency: (summary) => summary.avg_latency_ms,
};

/**
 * "Compared with what": the period of the same length just before this one (not for all
 * time), asked for once this one is painted, then told on each card (its change) and
 * offered on the charts (one click draws it beside this period's bars).
 */
async function comparePrevious(data, params, page, cards, series) {
  const { start_ms: start, end_ms: end, name } = data.range;
  if (name === "all") return;
  // today so far against yesterday's same hours; any other range against the one before it
  const shift = name === "today" ? 86_400_000 : end - start;
  const period = name === "today" ? t("yesterday_so_far") : t("previous_span", { span: spanText(end - start) });
  const query = apiParams(params, page);
  query.set("range", "custom");
  query.set("start", String(start - shift));
  query.set("end", String(end - shift));
  query.delete("refresh");
  let previous;
  try {
    previous = await api.get("usage/overview", query);
  } catch {
    return; // the comparison is extra: the page stands without it
  }
  if (!cards[0].element.isConnected) return; // painted again meanwhile
  for (const card of cards) {
    const [now, before] = [COMPARED[card.id](data.summary), COMPARED[card.id](previous.summary)];
    card.delta.textContent = changeText(now, before, period);
    card.delta.title = t("previous_was", { value: card.id === "cost" ? fmt.usd(before) : card.id === "latency"
      ? fmt.duration(before) : fmt.decimal(before), period });
  }
  series?.offerPrevious(previous);
}

/** A period's length in words: "24 hours", "7 days", "90 minutes" (days from three on, as
 * the range picker names them). */
function spanText(ms) {
  const [n, unit] = ms % 86_400_000 === 0 && ms > 2 * 86_400_000 ? [ms / 86_400_000, "span_days"] : ms % 3_600_000 === 0
    ? [ms / 3_600_000, "span_hours"] : [Math.round(ms / 60_000), "span_minutes"];
  return t(unit, { n: fmt.int(n), count: n });
}

/** "▲ 12% vs the previous 24 hours", "no change", or "none in the previous 24 hours". */
function changeText(now, before, period) {
  if (now == null || before == null) return "";
  if (!before) return now ? t("none_before", { period }) : t("no_change");
  const change = (now - before) / before;
  if (Math.abs(change) < 0.0005) return t("no_change");
  const size = Math.abs(change) >= 1 ? Math.round(Math.abs(change) * 100) / 100 : Math.abs(change); // 1,764%, 62.5%
  return t("vs_previous", { change: `${change > 0 ? "▲" : "▼"} ${fmt.percent(size)}`, period });
}

function tokenKinds(summary) {
  const { tokens } = summary;
  const kinds = [["input", tokens.input], ["cache_read", tokens.cache_read], ["cache_write", tokens.cache_write],
    ["output", tokens.output]];
  return [
    h("span", { class: "kinds" }, kinds.map(([kind, value]) => h("span", { class: `kind k-${kind}` },
      h("i", { "aria-hidden": "true" }), `${t(kind)} ${fmt.compact(value)}`))),
    summary.cache_hit_rate != null && t("cache_hit_is", { rate: fmt.percent(summary.cache_hit_rate) }),
  ];
}

function costNote(summary, params) {
  const { unpriced_requests: unpriced, unpriced_models: models } = summary.cost;
  if (!unpriced) return [t("cost_note")];
  const text = t("unpriced_note", { n: fmt.int(unpriced), count: unpriced, models: models.join(", ") });
  return [isMember() ? h("span", { class: "warn" }, text) : h("a", { class: "warn", href: hrefFor("models", params) }, text)];
}

/** The 15-minute grid's card: a row a local day. Its height is estimated (a 14-px row a
 * day, its head and legend) for as long as it is not laid out (content-visibility in app.css). */
function gridCard(cells) {
  const grid = cells.length ? healthGrid(cells) : { element: note(t("no_data")), rows: 0 };
  const element = card(t("health_grid"), grid.element, { wide: true, id: "health-grid" });
  element.style.containIntrinsicSize = `auto ${110 + 14 * grid.rows}px`;
  return element;
}

/** The grid of ``cells`` (at least one) and its legend: {element, rows}. */
function healthGrid(cells) {
  const busiest = Math.max(...cells.map((cell) => cell.requests));
  const rows = [];
  const rowOfDay = new Map();
  const placed = cells.map((cell) => {
    const local = fmt.localParts(cell.start_ms);
    const day = `${local.year}-${local.month}-${local.day}`;
    if (!rowOfDay.has(day)) {
      rowOfDay.set(day, rows.length);
      rows.push(fmt.shortDate(cell.start_ms));
    }
    // the tip's text is written when it is shown: three formatted times for each of 2,976 cells were 20 ms
    const when = () => `${fmt.shortDate(cell.start_ms)} ${fmt.time(cell.start_ms)}–${fmt.time(cell.start_ms + QUARTER_MS)}`;
    return { row: rowOfDay.get(day), col: local.hour * 4 + Math.floor(local.minute / 15),
      cls: healthClass(cell.requests, cell.failed, busiest), tip: () => cellTip(when(), cell.requests, cell.failed) };
  });
  const colLabels = [0, 3, 6, 9, 12, 15, 18, 21].map((hour) => ({ col: hour * 4, span: 12, text: String(hour).padStart(2, "0") }));
  return { element: h("div", {}, cellGrid({ label: t("health_grid"), rows, columns: 96, cells: placed, colLabels }), legend()),
    rows: rows.length };
}
