// CPA's log of one request (GET usage/events/<request_id>/log), shown in the event's
// dialog: what the client sent, each upstream attempt, what came back. Everything in a
// log is hostile input (prompts, model output, headers): it is only ever text here,
// through the element builder, and the only URLs loaded are this page's asset route.

import { ApiError, apiUrl } from "./api.js";
import { conversation } from "./conversation.js";
import { h, note, pill } from "./dom.js";
import * as fmt from "./format.js";
import { t } from "./i18n.js";

/** The path of a request's log routes (the id is checked by the server: 1-128 of [A-Za-z0-9_-]). */
function logPath(requestId, tail = "") {
  return `usage/events/${encodeURIComponent(requestId)}/log${tail}`;
}

/**
 * Read the log with a progress line (a log's answer can be megabytes: its bytes are
 * counted as they arrive), then show it in ``into``: tabs for the Conversation, Info,
 * Request, Attempts and Response, and the raw file as a download. Resolves to the log
 * (null when it could not be read, which ``into`` then says).
 */
export async function showRequestLog(requestId, into) {
  const progress = h("p", { class: "muted", id: "log-progress", role: "status" }, t("log_loading", { percent: "0%" }));
  into.replaceChildren(progress);
  let log;
  try {
    log = await fetchWithProgress(apiUrl(logPath(requestId)), (done, total) => {
      progress.textContent = total ? t("log_loading", { percent: fmt.percent(done / total) })
        : t("log_loading_bytes", { size: fmt.compact(done) });
    });
  } catch (error) {
    const hint = error.detail?.hint;
    into.replaceChildren(h("div", { class: "note bad", id: "log-error", role: "alert" },
      error.message, hint ? h("p", { class: "muted" }, hint) : null));
    return null;
  }
  into.replaceChildren(logView(requestId, log));
  return log;
}

async function fetchWithProgress(url, onProgress) {
  const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
  const total = Number(response.headers.get("Content-Length")) || 0;
  const reader = response.body.getReader();
  const chunks = [];
  let done = 0;
  for (;;) {
    const { value, done: finished } = await reader.read();
    if (finished) break;
    chunks.push(value);
    done += value.length;
    onProgress(done, total);
  }
  const text = new TextDecoder().decode(await new Blob(chunks).arrayBuffer());
  const body = (() => {
    try {
      return JSON.parse(text);
    } catch {
      return null;
    }
  })();
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

function logView(requestId, log) {
  const talk = conversation(log);
  const tabs = [
    ...(talk ? [["conversation", t("log_conversation"), () => conversationTab(requestId, log, talk)]] : []),
    ["info", t("log_info"), () => infoTab(log)],
    ["request", t("log_request"), () => requestTab(requestId, log)],
    ["attempts", t("log_attempts", { n: log.attempts.length }), () => attemptsTab(requestId, log)],
    ["response", t("log_response"), () => responseTab(requestId, log)],
  ];
  const panel = h("div", { class: "log-panel", id: "log-panel", role: "tabpanel" });
  const buttons = tabs.map(([id, label, render]) => h("button", {
    type: "button", role: "tab", id: `log-tab-${id}`, "aria-selected": "false",
    onclick: () => {
      for (const button of buttons) button.setAttribute("aria-selected", String(button.id === `log-tab-${id}`));
      panel.replaceChildren(render());
    },
  }, label));
  buttons[0].click();
  const raw = h("a", { href: apiUrl(logPath(requestId, "/raw")), download: log.file.name, id: "log-raw" },
    t("log_download", { size: fmt.compact(log.file.size) }));
  return h("section", { class: "request-log", id: "request-log" },
    h("div", { class: "log-head" }, h("div", { class: "segmented", role: "tablist", "aria-label": t("log_title") }, buttons), raw),
    log.truncated.length ? h("p", { class: "note warn" }, t("log_truncated", { parts: log.truncated.join(", ") })) : null,
    panel);
}

function facts(rows) {
  return h("dl", { class: "facts" }, rows.filter(([, value]) => value != null && value !== "").map(([label, value]) => [
    h("dt", {}, label), h("dd", {}, String(value))]));
}

function infoTab(log) {
  return h("div", {},
    facts([[t("log_file"), log.file.name], [t("log_size"), fmt.int(log.file.size)], ...Object.entries(log.info)]));
}

function headersTable(headers) {
  if (!headers?.length) return h("p", { class: "muted" }, t("log_no_headers"));
  return h("dl", { class: "facts log-headers" }, headers.map(([name, value]) => [h("dt", {}, name), h("dd", {}, value)]));
}

/** A body as text: pretty JSON where it is JSON (raw on request), a badge when it was cut. */
function bodyBlock(requestId, log, body) {
  if (!body || body.text === "") return h("p", { class: "muted" }, t("no_body"));
  let pretty = null;
  try {
    pretty = JSON.stringify(JSON.parse(body.text), null, 2);
  } catch {
    // not JSON (an SSE stream, text): shown as it is
  }
  const pre = h("pre", { class: "raw log-body" }, pretty ?? body.text);
  const toggle = pretty === null ? null : h("button", { type: "button", class: "small", onclick: () => {
    const showingPretty = pre.textContent === pretty;
    pre.textContent = showingPretty ? body.text : pretty;
    toggle.textContent = showingPretty ? t("log_pretty") : t("log_raw");
  } }, t("log_raw"));
  return h("div", { class: "log-body-block" },
    h("div", { class: "actions" }, toggle, body.truncated ? pill(t("log_cut", { size: fmt.compact(body.bytes) }), "warn") : null),
    pre, assetImages(requestId, log, body.text));
}

/** The images a body held, from the asset route (each was replaced by a marker in the text). */
function assetImages(requestId, log, text) {
  const shown = log.assets.filter((asset) => asset.type.startsWith("image/") && text.includes(`cpa-usage-asset:${asset.index}`));
  if (!shown.length) return null;
  return h("div", { class: "log-assets" }, shown.map((asset) => h("img", {
    alt: t("log_image", { n: asset.index }), loading: "lazy", class: "log-asset",
    src: apiUrl(logPath(requestId, "/asset"), new URLSearchParams({ offset: asset.offset, length: asset.length })),
  })));
}

function requestTab(requestId, log) {
  return h("div", {}, h("h3", {}, t("log_headers")), headersTable(log.request.headers),
    h("h3", {}, t("log_body")), bodyBlock(requestId, log, log.request.body));
}

function statusPill(status) {
  if (status == null) return pill("—");
  return pill(String(status), status >= 400 ? "bad" : status >= 300 ? "warn" : "ok");
}

function attemptsTab(requestId, log) {
  if (!log.attempts.length) return note(t("log_no_attempts"));
  return h("div", {}, log.attempts.map((attempt) => h("details", { class: "log-attempt", open: log.attempts.length < 3 },
    h("summary", {}, t("log_attempt", { n: attempt.index }), " ", statusPill(attempt.response?.status), " ",
      h("span", { class: "muted small" }, [attempt.request.upstream_url, attempt.response?.timestamp].filter(Boolean).join(" · "))),
    facts([[t("log_auth"), attempt.request.auth], [t("log_method"), attempt.request.http_method]]),
    [...(attempt.request.errors || []), ...(attempt.response?.errors || [])].map((error) => h("p", { class: "bad" }, error)),
    h("h3", {}, t("log_sent")), headersTable(attempt.request.headers), bodyBlock(requestId, log, attempt.request.body),
    attempt.response ? [h("h3", {}, t("log_received")), headersTable(attempt.response.headers),
      bodyBlock(requestId, log, attempt.response.body)] : null)));
}

/** The turns as bubbles by role; thinking and tool calls folded; images from the asset
 * route; a copy button on each; a search that steps through the turns that match. */
function conversationTab(requestId, log, talk) {
  const bubbles = talk.turns.map((turn) => {
    const plain = turn.parts.map((part) => part.text).filter(Boolean).join("\n\n");
    const copy = h("button", { type: "button", class: "small link", onclick: () => navigator.clipboard?.writeText(plain) },
      t("log_copy"));
    return h("article", { class: `bubble role-${turn.role}${turn.answer ? " answer" : ""}`, dataset: { text: plain.toLowerCase() } },
      h("header", {}, h("strong", {}, turn.role), copy), turn.parts.map((part) => partView(requestId, log, part)));
  });
  const counter = h("span", { class: "muted small", id: "log-search-count" });
  let hits = [];
  let at = -1;
  const step = (direction) => {
    if (!hits.length) return;
    at = (at + direction + hits.length) % hits.length;
    for (const bubble of bubbles) bubble.classList.toggle("current", bubble === hits[at]);
    hits[at].scrollIntoView({ block: "nearest" });
    counter.textContent = t("log_hit", { n: at + 1, total: hits.length });
  };
  const search = h("input", { type: "search", id: "log-search", placeholder: t("search"), "aria-label": t("search"),
    oninput: () => {
      const wanted = search.value.trim().toLowerCase();
      hits = wanted ? bubbles.filter((bubble) => bubble.dataset.text.includes(wanted)) : [];
      for (const bubble of bubbles) bubble.classList.toggle("hit", hits.includes(bubble));
      at = -1;
      counter.textContent = wanted ? t("log_hits", { n: hits.length, count: hits.length }) : "";
      step(1);
    },
    onkeydown: (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        step(event.shiftKey ? -1 : 1);
      }
    } });
  return h("div", { class: "conversation" },
    h("div", { class: "actions" }, search,
      h("button", { type: "button", class: "small", id: "log-prev", onclick: () => step(-1) }, t("previous")),
      h("button", { type: "button", class: "small", id: "log-next", onclick: () => step(1) }, t("next")), counter),
    h("p", { class: "muted small" }, t(`log_protocol_${talk.protocol}`)), bubbles);
}

function partView(requestId, log, part) {
  if (part.kind === "image") {
    const known = log.assets.find((one) => one.index === part.asset);
    return known ? assetImages(requestId, log, `cpa-usage-asset:${known.index}`) : h("p", { class: "muted" }, t("log_image_elsewhere"));
  }
  if (part.kind === "text") return h("div", { class: "bubble-text" }, part.text);
  const label = { thinking: t("log_thinking"), tool_call: t("log_tool_call", { name: part.name || "?" }),
    tool_result: t("log_tool_result", { name: part.name || "" }) }[part.kind];
  return h("details", { class: `bubble-${part.kind}` }, h("summary", {}, label), h("pre", { class: "raw" }, prettyText(part.text)));
}

function prettyText(value) {
  try {
    return JSON.stringify(JSON.parse(value), null, 2);
  } catch {
    return value;
  }
}

function responseTab(requestId, log) {
  if (!log.response) return note(t("log_no_response"));
  return h("div", {}, h("p", {}, t("log_status"), " ", statusPill(log.response.status)),
    h("h3", {}, t("log_headers")), headersTable(log.response.headers),
    h("h3", {}, t("log_body")), bodyBlock(requestId, log, log.response.body));
}
