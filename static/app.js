// cpa-usage dashboard: the shell (header, navigation, filters, banners, sign-in) and the
// router that loads and paints one page at a time. Plain ES modules, no build step; every
// URL is relative to the page, so any APP_BASE_PATH works.

import { api, SignInNeeded } from "./js/api.js";
import { destroyCharts } from "./js/charts.js";
import { multiSelect, rangePicker, segmented } from "./js/controls.js";
import { dialogOpen, errorNote, h, hideTip } from "./js/dom.js";
import * as fmt from "./js/format.js";
import { language, setLanguage, t, translateStatic } from "./js/i18n.js";
import analysis from "./js/pages/analysis.js";
import aliases from "./js/pages/aliases.js";
import credentials from "./js/pages/credentials.js";
import events from "./js/pages/events.js";
import health from "./js/pages/health.js";
import models from "./js/pages/models.js";
import overview from "./js/pages/overview.js";
import status, { modeText } from "./js/pages/status.js";
import { apiParams, hrefFor, navigate, route, withChanges } from "./js/state.js";

const PAGES = { overview, health, analysis, events, credentials, models, aliases, status };
const STATUS_EVERY_MS = 10_000;
const THEME_KEY = "cpa-usage-theme";
const darkScheme = window.matchMedia("(prefers-color-scheme: dark)");
const $ = (id) => document.getElementById(id);

let signedIn = false;
let shown = 0; // the number of the latest show(): older answers are dropped
let current = null; // {page, params, data} of the painted view
let refreshTimer = null;
let statusReady = Promise.resolve();
let filterBar = null;

// -- theme and language ----------------------------------------------------------------------

function applyTheme() {
  const choice = localStorage.getItem(THEME_KEY) || "auto";
  $("theme").value = choice;
  document.documentElement.dataset.theme = choice === "dark" || (choice === "auto" && darkScheme.matches) ? "dark" : "light";
}

function setupPreferences() {
  applyTheme();
  $("theme").addEventListener("change", (event) => {
    localStorage.setItem(THEME_KEY, event.target.value);
    applyTheme();
    paint();
  });
  darkScheme.addEventListener("change", () => {
    applyTheme();
    paint();
  });
  $("lang").value = language();
  $("lang").addEventListener("change", (event) => {
    setLanguage(event.target.value);
    filterBar = buildFilterBar();
    syncShell();
    paint();
  });
  $("refresh").addEventListener("change", (event) => goWith({ refresh: event.target.value || null }));
}

// -- filters ---------------------------------------------------------------------------------

function goWith(changes) {
  const { page, params } = route();
  navigate(page, withChanges(params, changes));
}

/** The values every filter can take in the current range. */
function filterChoices() {
  const { page, params } = route();
  return api.get("usage/events/filters", apiParams(params, { range: PAGES[page].range || "all" }));
}

function buildFilterBar() {
  const range = rangePicker((changes) => goWith(changes));
  const select = (id, label, pick) => multiSelect({ id, label, load: async () => pick(await filterChoices()),
    onChange: (values) => goWith({ [id.replace("filter-", "")]: values }) });
  const model = select("filter-model", t("model"), (answer) => answer.models.map((item) => (
    { value: item.model, label: item.model, count: item.requests })));
  const source = select("filter-source", t("credential"), (answer) => answer.sources.map((item) => (
    { value: item.source_id, label: item.source, count: item.requests })));
  const apiKey = select("filter-api_key", t("api_key"), (answer) => answer.api_keys.map((item) => (
    { value: item.api_key_id, label: item.alias ? `${item.alias} (${item.api_key})` : item.api_key, count: item.requests })));
  const result = segmented({ id: "result", label: t("result"),
    options: [{ value: "", text: t("all") }, { value: "success", text: t("success") }, { value: "failed", text: t("failed") }],
    onChange: (value) => goWith({ result: value || null }) });
  const reset = h("button", { type: "button", class: "link", id: "reset-filters",
    onclick: () => goWith({ range: null, start: null, end: null, model: [], source: [], api_key: [], result: null }) },
  t("reset_filters"));
  const others = h("div", { class: "filter-group" }, model.element, source.element, apiKey.element, result.element);
  $("filters").replaceChildren(range.element, others, reset);
  return { range, model, source, apiKey, result, others, reset };
}

// -- the shell -------------------------------------------------------------------------------

function syncShell() {
  const { page, params } = route();
  const definition = PAGES[page];
  $("nav").replaceChildren(...Object.keys(PAGES).map((id) => h("a", {
    href: hrefFor(id, withChanges(params, {})), "aria-current": id === page ? "page" : null }, t(`page_${id}`))));
  $("filters").hidden = !definition.range && !definition.filters;
  filterBar.range.element.hidden = !definition.range;
  filterBar.others.hidden = !definition.filters;
  filterBar.range.set(params.get("range") || definition.range, params.get("start"), params.get("end"));
  filterBar.model.set(params.getAll("model"));
  filterBar.source.set(params.getAll("source"));
  filterBar.apiKey.set(params.getAll("api_key"));
  filterBar.result.set(params.get("result") || "");
  filterBar.reset.hidden = !["range", "model", "source", "api_key", "result"].some((key) => params.has(key));
  $("refresh").value = params.get("refresh") || "";
}

function paintConnection(report) {
  const conn = $("conn");
  const [text, kind] = report.auth === "rejected" ? [t("conn_key_rejected"), "bad"]
    : report.mode === "down" ? [modeText("down"), "bad"]
      : report.cpa.usage_statistics_enabled === false ? [t("conn_not_recording"), "warn"]
        : [modeText(report.mode), "ok"];
  conn.replaceChildren(h("i", { class: "dot", "aria-hidden": "true" }), h("span", {}, `CPA: ${text}`));
  conn.className = `pill conn ${kind}`;
  conn.title = t("last_pop_was", { when: fmt.ago(report.last_pop_at) });
  conn.hidden = false;
  $("version").textContent = `v${report.version}`;
}

function paintBanners(report) {
  const problems = [];
  if (report.auth === "rejected") {
    problems.push(t("key_rejected_banner", { reason: report.auth_error, when: fmt.dateTime(report.auth_next_attempt_at) }));
  }
  if (report.database_stalled) problems.push(t("database_stalled"));
  $("drain-banner").textContent = problems.join(" ");
  $("drain-banner").hidden = problems.length === 0;
  $("warnings").textContent = report.warnings.join(" ");
  $("warnings").hidden = report.warnings.length === 0;
  $("recording").hidden = report.cpa.usage_statistics_enabled !== false;
}

/** /status feeds the header (live) and the banners; the first answer also gives the zone. */
async function refreshStatus() {
  try {
    const report = await api.get("status");
    if (!fmt.zoneKnown()) fmt.setZone(report.tz || (await api.get("usage/health")).tz);
    paintConnection(report);
    paintBanners(report);
  } catch (error) {
    if (error instanceof SignInNeeded) throw error;
    $("drain-banner").textContent = t("unreachable", { error: error.message });
    $("drain-banner").hidden = false;
    $("conn").hidden = true;
  }
}

function pollStatus() {
  if (signedIn && !document.hidden) refreshStatus().catch(showLogin);
}

// -- pages -----------------------------------------------------------------------------------

function paint() {
  if (!current || !signedIn) return;
  syncShell(); // again: the server's zone may have arrived with the data
  hideTip();
  destroyCharts();
  const { page, params, data } = current;
  const view = $("view");
  view.replaceChildren();
  PAGES[page].render(view, data, {
    params,
    reload: () => show(true),
    go: (changes, keepPage) => navigate(page, withChanges(params, changes, keepPage)),
  });
  document.title = `${t(`page_${page}`)} · cpa-usage`;
  document.body.dataset.page = page;
  document.body.dataset.loaded = "true";
}

async function show(quiet = false) {
  clearTimeout(refreshTimer);
  if (!signedIn) return;
  const { page, params } = route();
  if (!PAGES[page]) {
    navigate("overview", params, true);
    return;
  }
  const ticket = ++shown;
  if (!quiet) document.body.dataset.loaded = "false";
  syncShell();
  try {
    const [data] = await Promise.all([PAGES[page].load(params), statusReady]);
    if (ticket !== shown) return;
    current = { page, params, data };
    paint();
  } catch (error) {
    if (ticket !== shown) return;
    if (error instanceof SignInNeeded) {
      showLogin();
      return;
    }
    current = null;
    destroyCharts();
    $("view").replaceChildren(errorNote(error));
    document.body.dataset.loaded = "error";
  }
  scheduleRefresh(params);
}

/** Auto-refresh waits while a dialog is open or a field (a price, a custom range) is being edited. */
function scheduleRefresh(params) {
  const seconds = Number(params.get("refresh"));
  if (!seconds) return;
  refreshTimer = setTimeout(() => {
    const editing = /^(INPUT|TEXTAREA)$/.test(document.activeElement?.tagName);
    if (dialogOpen() || editing || document.hidden) scheduleRefresh(params);
    else show(true);
  }, seconds * 1000);
}

// -- signing in and out ----------------------------------------------------------------------

function showLogin() {
  signedIn = false;
  clearTimeout(refreshTimer);
  current = null;
  destroyCharts();
  hideTip();
  document.body.classList.add("signed-out");
  $("view").replaceChildren();
  $("login").hidden = false;
  $("logout").hidden = true;
  $("password").focus();
  document.body.dataset.loaded = "login";
}

function enter(authEnabled) {
  signedIn = true;
  document.body.classList.remove("signed-out");
  $("login").hidden = true;
  $("logout").hidden = !authEnabled;
  statusReady = refreshStatus();
  show();
}

function setupSignIn() {
  $("login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await api.post("auth/login", { password: $("password").value });
      $("login-error").textContent = "";
      $("password").value = "";
      enter(true);
    } catch (problem) {
      $("login-error").textContent = problem.message;
    }
  });
  $("logout").addEventListener("click", async () => {
    await api.post("auth/logout");
    showLogin();
  });
  $("recording-fix").addEventListener("click", async () => {
    try {
      await api.post("cpa/usage-statistics", { enabled: true });
      $("recording-error").textContent = "";
      await refreshStatus();
    } catch (problem) {
      $("recording-error").textContent = problem.message;
    }
  });
  // A 401 from anything a page does (a save, an import) brings the sign-in form back.
  window.addEventListener("unhandledrejection", (event) => {
    if (event.reason instanceof SignInNeeded) {
      event.preventDefault();
      showLogin();
    }
  });
}

async function start() {
  translateStatic();
  document.querySelector(".skip").addEventListener("click", (event) => {
    event.preventDefault(); // the hash is the route: move the focus instead
    $("view").focus();
  });
  setupPreferences();
  setupSignIn();
  filterBar = buildFilterBar();
  window.addEventListener("hashchange", () => show());
  setInterval(pollStatus, STATUS_EVERY_MS);
  try {
    const session = await api.get("auth/session");
    if (session.signed_in) enter(session.auth_enabled);
    else showLogin();
  } catch (error) {
    $("view").replaceChildren(errorNote(error));
    document.body.dataset.loaded = "error";
  }
}

start();
