// Events: the raw records, newest first, paginated; a row opens every field of its event.

import { api } from "../api.js";
import { card, dataTable, h, openDialog, pager, pill } from "../dom.js";
import { eventExports } from "../exports.js";
import * as fmt from "../format.js";
import { t } from "../i18n.js";
import { showRequestLog } from "../requestlog.js";
import { isMember, session } from "../session.js";
import { apiParams } from "../state.js";

const PAGE_SIZE = 50;

export default {
  range: "all",
  filters: true,
  stream: true, // the one page with the stream filter (raw events)
  load(params) {
    return api.get("usage/events", apiParams(params, this, { page: params.get("page"), page_size: PAGE_SIZE }));
  },
  render(root, data, { params, go }) {
    const columns = [
      { label: t("time"), value: (event) => fmt.dateTime(event.ts_ms) },
      { label: t("result"), value: result, cls: (event) => (event.failed ? "bad" : "ok") },
      { label: t("model"), value: modelName },
      { label: t("api_key"), value: (event) => event.api_key_alias || event.api_key || "—" },
      isMember() ? null : { label: t("credential"), value: (event) => event.source || event.auth_index || "—" },
      session.instances.length > 1 ? { label: t("instance"), value: (event) => fmt.instanceName(event.instance) } : null,
      { label: t("input"), num: true, value: (event) => fmt.int(event.tokens.input) },
      { label: t("cache_read"), num: true, value: (event) => fmt.int(event.tokens.cache_read) },
      { label: t("output"), num: true, value: (event) => fmt.int(event.tokens.output) },
      { label: t("cost"), num: true, value: (event) => (event.cost_usd == null ? t("unpriced") : fmt.usd(event.cost_usd)) },
      { label: t("latency"), num: true, value: (event) => fmt.duration(event.latency_ms) },
    ].filter(Boolean);
    const title = h("span", {}, t("page_events"), " ", h("span", { id: "events-total", class: "muted" },
      t("n_in_all", { n: fmt.int(data.total) })));
    const search = h("input", { id: "request-id", type: "search", placeholder: "request_id", autocomplete: "off",
      spellcheck: "false", "aria-label": t("request_id_search") });
    const finder = h("form", { class: "inline-form", id: "request-search", onsubmit: (event) => {
      event.preventDefault();
      if (search.value.trim()) openRequest(search.value.trim());
    } }, search, h("button", { type: "submit", class: "small" }, t("open_request_log")));
    root.append(card(title, [
      data.items.length
        ? dataTable(columns, data.items, { id: "events", onOpen: showEvent, caption: t("page_events"), cards: true })
        : h("p", { id: "events-empty", class: "note muted" }, t("no_events")),
      pager(data.page, data.page_size, data.total, (page) => go({ page }, true)),
    ], { wide: true, actions: h("div", { class: "actions" }, isMember() ? null : finder, eventExports(apiParams(params, this))) }));
  },
};

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

/** Every field of the event; the failure first when it failed. */
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
    h("div", { class: "event-detail", id: "event-detail" }, failure, open, log, fieldTable(event)));
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
