// Events: the raw records, newest first, paginated, in the columns the viewer chooses (kept
// in this browser); a row opens its event, readable, with every field of it below.

import { api } from "../api.js";
import { columnChooser } from "../controls.js";
import { card, dataTable, facts, h, openDialog, pager, pill } from "../dom.js";
import { eventExports } from "../exports.js";
import * as fmt from "../format.js";
import { t } from "../i18n.js";
import { showRequestLog } from "../requestlog.js";
import { isMember, session } from "../session.js";
import { apiParams } from "../state.js";

const PAGE_SIZE = 50;
const COLUMNS_KEY = "cpa-usage-event-columns";

export default {
  range: "all",
  filters: true,
  stream: true, // the one page with the stream filter (raw events)
  load(params) {
    return api.get("usage/events", apiParams(params, this, { page: params.get("page"), page_size: PAGE_SIZE }));
  },
  render(root, data, { params, go }) {
    const available = eventColumns(data.items);
    const table = (columns) => (data.items.length
      ? dataTable(columns, data.items, { id: "events", onOpen: showEvent, caption: t("page_events"), cards: true })
      : h("p", { id: "events-empty", class: "note muted" }, t("no_events")));
    let shown = table(chosenColumns(available));
    const chooser = columnChooser({ id: "event-columns", columns: available,
      chosen: chosenColumns(available).map((column) => column.id),
      defaults: available.filter((column) => column.shown).map((column) => column.id),
      onChange: (ids) => {
        if (ids.length) localStorage.setItem(COLUMNS_KEY, JSON.stringify(ids));
        else localStorage.removeItem(COLUMNS_KEY);
        const fresh = table(chosenColumns(available));
        shown.replaceWith(fresh);
        shown = fresh;
      } });
    const title = h("span", {}, t("page_events"), " ", h("span", { id: "events-total", class: "muted" },
      t("n_in_all", { n: fmt.int(data.total) })));
    const search = h("input", { id: "request-id", type: "search", placeholder: "request_id", autocomplete: "off",
      spellcheck: "false", "aria-label": t("request_id_search") });
    const finder = h("form", { class: "inline-form", id: "request-search", onsubmit: (event) => {
      event.preventDefault();
      if (search.value.trim()) openRequest(search.value.trim());
    } }, search, h("button", { type: "submit", class: "small" }, t("open_request_log")));
    root.append(card(title, [
      shown,
      pager(data.page, data.page_size, data.total, (page) => go({ page }, true)),
    ], { wide: true, actions: h("div", { class: "actions" }, isMember() ? null : finder, chooser,
      eventExports(apiParams(params, this))) }));
  },
};

/** Every column the table can show, in table order; ``shown``: in the default choice (the
 * instance where there are several CPAs, cache writes where the page has some: a table of
 * every column overflows a laptop's width). */
function eventColumns(events) {
  const tokens = (id, field = id) => ({ id, label: t(id), num: true, value: (event) => fmt.int(event.tokens[field]) });
  return [
    { id: "time", label: t("time"), value: (event) => fmt.dateTime(event.ts_ms), shown: true },
    { id: "result", label: t("result"), value: result, cls: (event) => (event.failed ? "bad" : "ok"), shown: true },
    { id: "model", label: t("model"), value: modelName, shown: true },
    { id: "api_key", label: t("api_key"), value: (event) => event.api_key_alias || event.api_key || "—", shown: true },
    isMember() ? null : { id: "credential", label: t("credential"), value: (event) => event.source || event.auth_index || "—",
      shown: true },
    { id: "instance", label: t("instance"), value: (event) => fmt.instanceName(event.instance), shown: session.instances.length > 1 },
    { id: "endpoint", label: t("endpoint"), value: (event) => event.endpoint || "—" },
    { id: "provider", label: t("provider"), value: (event) => event.provider || "—" },
    { id: "stream", label: t("stream"), value: (event) => yesNo(event.stream) },
    { ...tokens("input"), shown: true },
    { ...tokens("cache_read"), shown: true },
    { ...tokens("cache_write"), shown: events.some((event) => event.tokens.cache_write > 0) },
    { ...tokens("output"), shown: true },
    tokens("reasoning"),
    { ...tokens("total_tokens", "total") },
    { id: "cost", label: t("cost"), num: true, value: (event) => (event.cost_usd == null ? t("unpriced") : fmt.usd(event.cost_usd)),
      shown: true },
    { id: "latency", label: t("latency"), num: true, value: (event) => fmt.duration(event.latency_ms), shown: true },
    { id: "ttft", label: t("ttft"), num: true, value: (event) => fmt.duration(event.ttft_ms || null), shown: true },
    { id: "speed", label: t("output_speed"), num: true, value: (event) => speedText(event) },
    { id: "request_id", label: "request_id", value: (event) => event.request_id || "—" },
  ].filter(Boolean);
}

/** The viewer's columns (kept in this browser), else the default ones. */
function chosenColumns(available) {
  let ids = [];
  try {
    ids = JSON.parse(localStorage.getItem(COLUMNS_KEY) || "[]");
  } catch {
    ids = [];
  }
  const chosen = available.filter((column) => Array.isArray(ids) && ids.includes(column.id));
  return chosen.length ? chosen : available.filter((column) => column.shown);
}

function yesNo(value) {
  return value == null ? "—" : t(value ? "yes" : "no");
}

/** Output tokens per second after the first token: how fast the model wrote its answer. */
function outputSpeed(event) {
  const writing = event.latency_ms - event.ttft_ms;
  return event.ttft_ms > 0 && writing > 0 && event.tokens.output > 0 ? event.tokens.output / (writing / 1000) : null;
}

function speedText(event) {
  const speed = outputSpeed(event);
  return speed == null ? "—" : t("tokens_per_second", { n: fmt.decimal(speed, 1) });
}

function modelName(event) {
  return event.alias && event.alias !== event.model ? `${event.alias} → ${event.model}` : event.model;
}

function result(event) {
  return event.failed ? `${t("failed")} ${event.status_code ?? ""}`.trim() : t("ok");
}

/** A request found by its id (from a client's error message, a support ticket): CPA's log
 * of it in the dialog, then the stored event's fields. */
async function openRequest(requestId) {
  const log = h("div", { id: "log-box" });
  const fields = h("div", {});
  openDialog(t("request_title", { id: requestId }), h("div", { class: "event-detail", id: "event-detail" }, log, fields));
  const answer = await showRequestLog(requestId, log);
  if (answer?.events?.length) fields.replaceChildren(fieldTable(answer.events[0]));
}

/** The event, readable (the failure first when it failed), then every field of it as the
 * API gives it. */
function showEvent(event) {
  const failure = event.failed ? h("section", { class: "failure" },
    h("h3", {}, pill(t("failed"), "bad"), " ", t("status_code_is", { code: event.status_code ?? "—" })),
    event.fail_body ? h("pre", { class: "raw" }, prettyJson(event.fail_body)) : h("p", { class: "muted" }, t("no_body"))) : null;
  const log = h("div", { id: "log-box" });
  const open = event.request_id ? h("button", { type: "button", id: "open-log", onclick: () => {
    open.remove();
    showRequestLog(event.request_id, log);
  } }, t("log_open")) : null;
  openDialog(`${modelName(event)} · ${fmt.dateTime(event.ts_ms)}`,
    h("div", { class: "event-detail", id: "event-detail" }, failure, open, log, eventSummary(event), allFields(event)));
}

const FLAGGED_QUALITIES = new Set(["unclassified", "inconsistent", "ambiguous"]);

/** What was asked, by whom, through which credential, how it went, its tokens and cost, in
 * words and in the zone every time is shown in; a part without values is left out. */
function eventSummary(event) {
  const part = (title, rows) => {
    const kept = rows.filter(([, value]) => value != null && value !== "");
    return kept.length ? h("section", { class: "event-part" }, h("h3", {}, title), facts(kept)) : null;
  };
  const { tokens } = event;
  const flagged = FLAGGED_QUALITIES.has(event.token_quality);
  return h("div", { class: "event-parts", id: "event-summary" },
    part(t("event_request"), [
      [t("time"), event.timestamp_estimated ? `${fmt.dateTime(event.ts_ms)} (${t("time_estimated")})` : fmt.dateTime(event.ts_ms)],
      [t("received"), fmt.dateTime(event.received_at)],
      [t("model"), modelName(event)],
      [t("endpoint"), event.endpoint],
      [t("provider"), [event.provider, event.executor_type].filter(Boolean).join(" · ")],
      [t("stream"), event.stream == null ? null : yesNo(event.stream)],
      [t("reasoning_effort"), event.reasoning_effort],
      [t("service_tier"), tierText(event)],
      ["request_id", event.request_id],
      [t("instance"), event.instance || session.instances.length > 1 ? fmt.instanceName(event.instance) : null],
    ]),
    part(t("event_client"), [
      [t("api_key"), event.api_key_alias ? `${event.api_key_alias} (${event.api_key})` : event.api_key],
      [t("client_ip"), event.resolved_client_ip || event.client_ip],
      [t("user_agent"), event.user_agent],
    ]),
    part(t("credential"), [[t("credential"), event.source], ["auth_index", event.auth_index], [t("auth_type"), event.auth_type]]),
    part(t("event_outcome"), [
      [t("result"), result(event), event.failed ? "bad" : "ok"],
      [t("latency"), event.latency_ms == null ? null : fmt.duration(event.latency_ms)],
      [t("ttft"), event.ttft_ms ? fmt.duration(event.ttft_ms) : null],
      [t("output_speed"), outputSpeed(event) == null ? null : speedText(event)],
    ]),
    part(t("tokens"), [
      ...["input", "cache_read", "cache_write", "output", "reasoning"].map((kind) => [t(kind), fmt.int(tokens[kind])]),
      [t("unclassified"), tokens.unclassified ? fmt.int(tokens.unclassified) : null],
      [t("total_tokens"), fmt.int(tokens.total)],
      [t("token_counts"), t(`quality_${event.token_quality}`), flagged ? "warn" : null],
      [t("cost"), event.cost_usd == null ? t("unpriced") : fmt.usd(event.cost_usd)],
    ]));
}

/** The tier asked for and the one that served, when CPA says: "priority → default". */
function tierText(event) {
  const asked = event.service_tier;
  const served = event.response_service_tier;
  if (!asked && !served) return null;
  return asked && served && asked !== served ? `${asked} → ${served}` : served || asked;
}

/** Every field as the API gives it (its times in UTC), folded away. */
function allFields(event) {
  return h("details", { class: "all-fields", id: "all-fields" }, h("summary", {}, t("all_fields")), fieldTable(event));
}

function prettyJson(text) {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

function fieldValue(value) {
  if (value === null || value === undefined || value === "") return h("span", { class: "muted" }, "—");
  if (typeof value === "object") return h("pre", { class: "raw" }, JSON.stringify(value, null, 2));
  return String(value);
}

function fieldTable(event) {
  return h("dl", { class: "facts fields" }, Object.entries(event).map(([key, value]) => [
    h("dt", {}, h("code", {}, key)), h("dd", {}, fieldValue(value))]));
}
