// cpa-usage dashboard: the shell (header, navigation, filters, banners, sign-in) and the
// router that loads and paints one page at a time. Plain ES modules, no build step; every
// URL is relative to the page, so any APP_BASE_PATH works. A member (signed in with their
// own CPA client key) gets the usage pages only, limited to their key.

import { act, api, SignInNeeded } from "./js/api.js";
import { chartsReady, destroyCharts, readThemeColors, withCharts } from "./js/charts.js";
import { multiSelect, rangePicker, segmented } from "./js/controls.js";
import { activeAlerts } from "./js/budget.js";
import { dialogOpen, errorView, h, hideTip, skeleton } from "./js/dom.js";
import * as fmt from "./js/format.js";
import { language, setLanguage, t, translateStatic } from "./js/i18n.js";
import analysis from "./js/pages/analysis.js";
import aliases from "./js/pages/aliases.js";
import budgets from "./js/pages/budgets.js";
import credentials from "./js/pages/credentials.js";
import events from "./js/pages/events.js";
import health from "./js/pages/health.js";
import importPage from "./js/pages/import.js";
import models from "./js/pages/models.js";
import overview from "./js/pages/overview.js";
import status, { modeText } from "./js/pages/status.js";
import { isMember, memberName, session } from "./js/session.js";
import { apiParams, hrefFor, navigate, route, withChanges } from "./js/state.js";

// Pages marked ``owner`` are not offered to a member (their routes answer 403).
const PAGES = { overview, health, analysis, events, credentials, models, aliases, budgets, import: importPage, status };
const STATUS_EVERY_MS = 10_000;
const NO_INSTANCE = "~"; // the filter's value for events without an instance (the API's NO_INSTANCE)
const THEME_KEY = "cpa-usage-theme";
const LOGIN_MODE_KEY = "cpa-usage-login";
const darkScheme = window.matchMedia("(prefers-color-scheme: dark)");
const $ = (id) => document.getElementById(id);

let signedIn = false;
let shown = 0; // the number of the latest show(): older answers are dropped
let current = null; // {page, params, data} of the painted view
let refreshTimer = null;
let statusReady = Promise.resolve();
let filterBar = null;
let keyLogin = false; // members may sign in with their CPA client key (KEY_LOGIN_ENABLED)
let activeAlertCount = 0; // the owner's alerts of today and this month

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
  $("zone-switch").addEventListener("click", () => {
    fmt.chooseZone(fmt.zoneChoice() === "viewer" ? "server" : "viewer");
    syncShell();
    show(true); // the answers' local hours and days are the zone's: asked again
  });
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
    { value: item.api_key_id, label: fmt.keyLabel(item), count: item.requests })));
  const instance = select("filter-instance", t("instance"), (answer) => answer.instances.map((item) => (
    { value: item.instance || NO_INSTANCE, label: fmt.instanceName(item.instance), count: item.requests })));
  const result = segmented({ id: "result", label: t("result"),
    options: [{ value: "", text: t("all") }, { value: "success", text: t("success") }, { value: "failed", text: t("failed") }],
    onChange: (value) => goWith({ result: value || null }) });
  // CPA v8 records say whether the client asked for a stream; no rollup keeps it, so it
  // filters the raw events, on the page that lists them
  const stream = segmented({ id: "stream", label: t("stream"),
    options: [{ value: "", text: t("all") }, { value: "true", text: t("streamed") }, { value: "false", text: t("not_streamed") }],
    onChange: (value) => goWith({ stream: value || null }) });
  const reset = h("button", { type: "button", class: "link", id: "reset-filters",
    onclick: () => goWith({ range: null, start: null, end: null, model: [], source: [], api_key: [], instance: [],
      result: null, stream: null }) },
  t("reset_filters"));
  const others = h("div", { class: "filter-group" }, model.element, source.element, apiKey.element, instance.element,
    result.element, stream.element);
  $("filters").replaceChildren(range.element, others, reset);
  return { range, model, source, apiKey, instance, result, stream, others, reset };
}

/** The pages offered: a member's are the usage pages. */
function offered() {
  return Object.keys(PAGES).filter((id) => !(isMember() && PAGES[id].owner));
}

// -- the shell -------------------------------------------------------------------------------

function syncShell() {
  const { page, params } = route();
  const definition = PAGES[page];
  $("nav").replaceChildren(...offered().map((id) => h("a", {
    href: hrefFor(id, withChanges(params, {})), "aria-current": id === page ? "page" : null, dataset: { page: id } },
  t(`page_${id}`))));
  paintAlertBadge();
  const here = $("nav").querySelector("[aria-current=page]"); // a phone's one row of tabs shows the current one
  if (here && (here.offsetLeft < $("nav").scrollLeft || here.offsetLeft + here.offsetWidth > $("nav").scrollLeft + $("nav").clientWidth)) {
    $("nav").scrollLeft = here.offsetLeft - 10;
  }
  $("filters").hidden = !definition.range && !definition.filters;
  filterBar.range.element.hidden = !definition.range;
  filterBar.others.hidden = !definition.filters;
  filterBar.range.set(params.get("range") || definition.range, params.get("start"), params.get("end"));
  filterBar.model.set(params.getAll("model"));
  filterBar.source.set(params.getAll("source"));
  filterBar.apiKey.set(params.getAll("api_key"));
  filterBar.instance.set(params.getAll("instance"));
  filterBar.result.set(params.get("result") || "");
  filterBar.stream.set(params.get("stream") || "");
  filterBar.stream.element.hidden = !definition.stream;
  filterBar.source.element.hidden = isMember(); // the API forces a member's own key
  filterBar.apiKey.element.hidden = isMember();
  filterBar.instance.element.hidden = session.instances.length < 2 && !params.has("instance");
  filterBar.reset.hidden = !["range", "model", "source", "api_key", "instance", "result", "stream"].some((key) => params.has(key));
  $("refresh").value = params.get("refresh") || "";
  $("zone").hidden = !fmt.zoneKnown(); // every time on every page is in one zone: say which
  if (fmt.zoneKnown()) $("zone").textContent = t("times_in", { zone: fmt.zoneLabel() });
  syncZoneChoice();
  $("who").hidden = !isMember();
  if (isMember()) $("who").replaceChildren(h("span", { class: "sr-only" }, t("signed_in_as")), " ", memberName());
}

/** The server's zone or the viewer's own: the other one is offered beside the zone's name
 * where the two differ (a browser in New York on a server in Shanghai). */
function syncZoneChoice() {
  const button = $("zone-switch");
  button.hidden = !fmt.zoneKnown() || fmt.viewerZone() === fmt.serverZoneName();
  if (button.hidden) return;
  const toViewer = fmt.zoneChoice() === "server";
  button.textContent = t(toViewer ? "zone_use_viewer" : "zone_use_server");
  button.title = t("zone_switch_to", { zone: fmt.zoneLabel(toViewer ? fmt.viewerZone() : fmt.serverZoneName()) });
}

/** The header's pill: the state of the drain, of every CPA when there are several. */
function paintConnection(report) {
  const conn = $("conn");
  const { instances } = report;
  const down = instances.filter((one) => one.mode === "down").length;
  const [text, kind] = instances.some((one) => one.auth === "rejected") ? [t("conn_key_rejected"), "bad"]
    : down === instances.length ? [modeText("down"), "bad"]
      : down ? [t("conn_some_down", { n: down, total: instances.length }), "warn"]
        : report.cpa.usage_statistics_enabled === false ? [t("conn_not_recording"), "warn"]
          : [instances.length > 1 ? t("conn_all_up", { n: instances.length }) : modeText(report.mode), "ok"];
  conn.replaceChildren(h("i", { class: "dot", "aria-hidden": "true" }), h("span", {}, `CPA: ${text}`));
  conn.className = `pill conn ${kind}`;
  conn.title = t("last_pop_was", { when: fmt.ago(report.last_pop_at) });
  conn.hidden = false;
  $("version").textContent = `v${report.version}`;
}

function paintBanners(report) {
  const problems = report.instances.filter((one) => one.auth === "rejected").map((one) => {
    const text = t("key_rejected_banner", { reason: one.auth_error, when: fmt.dateTime(one.auth_next_attempt_at) });
    return report.instances.length > 1 ? `${one.name}: ${text}` : text;
  });
  if (report.database_stalled) problems.push(t("database_stalled"));
  $("drain-banner").textContent = problems.join(" ");
  $("drain-banner").hidden = problems.length === 0;
  $("warnings").textContent = report.warnings.join(" ");
  $("warnings").hidden = report.warnings.length === 0;
  $("recording").hidden = report.cpa.usage_statistics_enabled !== false;
}

function unreachable(error) {
  if (error instanceof SignInNeeded) throw error;
  $("drain-banner").textContent = t("unreachable", { error: error.message });
  $("drain-banner").hidden = false;
  $("conn").hidden = true;
}

/** /status feeds the header (live) and the banners; the first answer also gives the zone.
 * The alerts of today and this month are counted on the navigation's budgets link. */
async function refreshStatus() {
  try {
    const [report, alerts] = await Promise.all([api.get("status"), api.get("alerts", new URLSearchParams({ limit: "1000" }))]);
    if (!fmt.zoneKnown()) fmt.setZone(report.tz);
    paintConnection(report);
    paintBanners(report);
    activeAlertCount = activeAlerts(alerts.items).length;
    paintAlertBadge();
  } catch (error) {
    unreachable(error);
  }
}

/** The number of active alerts beside "Budgets & alerts" (none: no badge). */
function paintAlertBadge() {
  const link = $("nav").querySelector("a[data-page=budgets]");
  if (!link) return;
  link.querySelector(".badge")?.remove();
  if (!activeAlertCount) return;
  link.append(h("span", { class: "badge", title: t("active_alerts_n", { n: activeAlertCount, count: activeAlertCount }) },
    h("span", { "aria-hidden": "true" }, fmt.int(activeAlertCount)),
    h("span", { class: "sr-only" }, t("active_alerts_n", { n: activeAlertCount, count: activeAlertCount }))));
}

/** A member's header: /status is the owner's, so the version comes from /ping and the
 * zone from their budgets. */
async function memberHeader() {
  try {
    const [ping, own] = await Promise.all([api.get("ping"), api.get("budgets")]);
    if (!fmt.zoneKnown()) fmt.setZone(own.tz);
    $("version").textContent = `v${ping.version}`;
  } catch (error) {
    unreachable(error);
  }
}

/** The CPAs the events came from: the instance filter is offered when there are several. */
async function loadInstances() {
  await act(async () => {
    const answer = await api.get("usage/events/filters", apiParams(new URLSearchParams(), { range: "all" }));
    session.instances = answer.instances.map((item) => item.instance);
  }, () => {}); // without them the filter is just not offered; the page says what is wrong
}

function pollStatus() {
  if (signedIn && !isMember() && !document.hidden) refreshStatus().catch(showLogin);
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
  view.classList.remove("stale");
  view.removeAttribute("aria-busy");
  readThemeColors(); // while the view is empty: the one style recalculation it costs is short
  withCharts(() => PAGES[page].render(view, data, {
    params,
    reload: () => show(true),
    go: (changes, keepPage) => navigate(page, withChanges(params, changes, keepPage)),
  }));
  document.title = [t(`page_${page}`), isMember() ? memberName() : null, "cpa-usage"].filter(Boolean).join(" · ");
  document.body.dataset.page = page;
  document.body.dataset.loaded = "true";
}

async function show(quiet = false) {
  clearTimeout(refreshTimer);
  if (!signedIn) return;
  const { page, params } = route();
  if (!offered().includes(page)) {
    navigate("overview", params, true);
    return;
  }
  const ticket = ++shown;
  const loading = PAGES[page].load(params); // asked for first, the shell painted meanwhile
  if (!quiet) {
    document.body.dataset.loaded = "false";
    waitingFor(page);
  }
  syncShell();
  try {
    const [data] = await Promise.all([loading, statusReady, chartsReady]);
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
    const view = $("view");
    view.classList.remove("stale");
    view.removeAttribute("aria-busy");
    view.replaceChildren(errorView(error, {
      retry: () => show(),
      dropParameter: (name) => navigate(page, withChanges(params, { [name]: null }, true)),
    }));
    document.body.dataset.loaded = "error";
  }
  scheduleRefresh(params);
}

/** While a page loads: another page's content goes at once (a skeleton stands in for it,
 * the first time too); the same page's stays, dimmed, until the new answer replaces it. */
function waitingFor(page) {
  const view = $("view");
  if (current?.page === page) {
    view.classList.add("stale");
    view.setAttribute("aria-busy", "true");
    return;
  }
  current = null;
  destroyCharts();
  hideTip();
  view.classList.remove("stale");
  view.replaceChildren(skeleton());
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
  $("who").hidden = true;
  $("notice").hidden = true; // what was said to whoever signed out
  $("login-mode").hidden = !keyLogin;
  setLoginMode(keyLogin && localStorage.getItem(LOGIN_MODE_KEY) === "key" ? "key" : "password");
  document.body.dataset.loaded = "login";
}

/** The owner signs in with the password, a member with their CPA client key. */
function setLoginMode(mode) {
  for (const button of $("login-mode").querySelectorAll("button")) {
    button.setAttribute("aria-pressed", String(button.dataset.mode === mode));
  }
  for (const field of $("login-form").querySelectorAll(".login-field")) {
    field.hidden = field.dataset.mode !== mode;
    field.querySelector("input").disabled = field.hidden; // a hidden required field must not block the form
  }
  $("login-error").textContent = "";
  $(mode === "key" ? "api-key" : "password").focus();
}

function enter({ auth_enabled: authEnabled, member }) {
  signedIn = true;
  session.member = member;
  document.body.classList.remove("signed-out");
  $("login").hidden = true;
  $("logout").hidden = !authEnabled;
  if (member) for (const id of ["conn", "warnings", "recording", "drain-banner"]) $(id).hidden = true;
  statusReady = Promise.all([member ? memberHeader() : refreshStatus(), loadInstances()]);
  show();
}

function setupSignIn() {
  for (const button of $("login-mode").querySelectorAll("button")) {
    button.addEventListener("click", () => setLoginMode(button.dataset.mode));
  }
  $("login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const byKey = !$("api-key").disabled;
    try {
      const answer = await api.post("auth/login", byKey ? { api_key: $("api-key").value } : { password: $("password").value });
      localStorage.setItem(LOGIN_MODE_KEY, byKey ? "key" : "password");
      $("login-error").textContent = "";
      $("password").value = "";
      $("api-key").value = "";
      enter({ auth_enabled: true, member: answer.member });
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

/** The session's answer (GET auth/session: who is here) is in the page, filled in by the
 * server, so the view's data is asked for at once. */
function start() {
  const answer = JSON.parse(document.querySelector("meta[name=cpa-usage-session]").content);
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
  keyLogin = answer.key_login_enabled;
  if (answer.signed_in) enter(answer);
  else showLogin();
}

start();
