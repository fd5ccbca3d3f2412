// cpa-usage dashboard: drain status and the latest events, refreshed every 5 s.
// Plain ES modules, no build step; every URL is relative to the page (APP_BASE_PATH).

const REFRESH_MS = 5000;
const number = new Intl.NumberFormat();

class SignInNeeded extends Error {}

async function getJSON(path, options = {}) {
  const response = await fetch(path, { ...options, headers: { Accept: "application/json", ...options.headers } });
  const body = await response.json();
  if (response.status === 401) throw new SignInNeeded(body.error);
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

function postJSON(path, body) {
  return getJSON(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
}

function showLogin(visible) {
  document.getElementById("login").hidden = !visible;
  document.getElementById("dashboard").hidden = visible;
  if (visible) document.getElementById("password").focus();
}

function setupLogin() {
  document.getElementById("login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const error = document.getElementById("login-error");
    try {
      await postJSON("api/v1/auth/login", { password: document.getElementById("password").value });
      error.textContent = "";
      showLogin(false);
      refresh();
    } catch (problem) {
      error.textContent = problem.message;
    }
  });
  document.getElementById("logout").addEventListener("click", async () => {
    await postJSON("api/v1/auth/logout", {});
    showLogin(true);
  });
  document.getElementById("recording-fix").addEventListener("click", async () => {
    try {
      await postJSON("api/v1/cpa/usage-statistics", { enabled: true });
      refresh();
    } catch (problem) {
      document.getElementById("recording-error").textContent = problem.message;
    }
  });
}

function when(iso) {
  if (!iso) return "never";
  const date = new Date(iso);
  const seconds = Math.round((Date.now() - date.getTime()) / 1000);
  const ago = seconds < 60 ? `${seconds}s ago` : seconds < 3600 ? `${Math.round(seconds / 60)}m ago`
    : `${Math.round(seconds / 3600)}h ago`;
  return `${date.toLocaleString()} (${ago})`;
}

function facts(target, rows) {
  target.replaceChildren(...rows.flatMap(([label, value, cls]) => {
    const dt = document.createElement("dt");
    dt.textContent = label;
    const dd = document.createElement("dd");
    if (cls) {
      const pill = document.createElement("span");
      pill.className = `pill ${cls}`;
      pill.textContent = value;
      dd.append(pill);
    } else {
      dd.textContent = value;
    }
    return [dt, dd];
  }));
}

function renderStatus(status) {
  document.getElementById("version").textContent = `v${status.version}`;
  const modeText = { subscribe: "subscribed (push)", lpop: "polling (LPOP)", down: "not connected" }[status.mode];
  facts(document.getElementById("drain-facts"), [
    ["Mode", modeText || status.mode, status.mode === "down" ? "bad" : "ok"],
    ["Management key", status.auth, status.auth === "rejected" ? "bad" : status.auth === "ok" ? "ok" : ""],
    ["CPA queue", `${status.queue.addr} (${status.queue.key})`],
    ["Last pop", when(status.last_pop_at)],
    ["Last record", when(status.last_event_at)],
    ["Waiting to be written", number.format(status.pending)],
    ["Last error", status.last_error ? `${status.last_error} — ${when(status.last_error_at)}` : "none"],
  ]);
  const banner = document.getElementById("drain-banner");
  const problems = [];
  if (status.auth === "rejected") {
    problems.push(`CPA rejected the management key (${status.auth_error}). Fix CPA_MANAGEMENT_KEY and restart; ` +
      `the next automatic attempt is at ${new Date(status.auth_next_attempt_at).toLocaleString()}.`);
  }
  if (status.database_stalled) problems.push("The database refuses writes; records are kept in memory until it recovers.");
  banner.textContent = problems.join(" ");
  banner.hidden = problems.length === 0;
  const warnings = document.getElementById("warnings");
  warnings.textContent = status.warnings.join(" ");
  warnings.hidden = status.warnings.length === 0;
  document.getElementById("recording").hidden = status.cpa.usage_statistics_enabled !== false;
  const totals = status.totals;
  facts(document.getElementById("totals"), [
    ["Received", number.format(totals.received)],
    ["Stored", number.format(totals.inserted)],
    ["Duplicates skipped", number.format(totals.duplicates)],
    ["Malformed (kept aside)", number.format(totals.dead_letters), totals.dead_letters ? "bad" : ""],
  ]);
}

function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

function renderEvents(page) {
  document.getElementById("events-total").textContent = `(${number.format(page.total)} in all)`;
  const rows = page.items.map((event) => {
    const tr = document.createElement("tr");
    const result = event.failed ? `failed ${event.status_code ?? ""}`.trim() : "ok";
    tr.append(
      cell(new Date(event.timestamp).toLocaleString()),
      cell(event.alias && event.alias !== event.model ? `${event.alias} → ${event.model}` : event.model),
      cell(event.api_key || "—"),
      cell(event.source || event.auth_index || "—"),
      cell(number.format(event.tokens.input), "num"),
      cell(number.format(event.tokens.cache_read), "num"),
      cell(number.format(event.tokens.output), "num"),
      cell(event.latency_ms == null ? "—" : `${number.format(event.latency_ms)} ms`, "num"),
      cell(result, event.failed ? "bad" : "ok"),
    );
    return tr;
  });
  document.querySelector("#events tbody").replaceChildren(...rows);
  document.getElementById("events-empty").hidden = page.items.length > 0;
}

async function refresh() {
  try {
    const session = await getJSON("api/v1/auth/session");
    document.getElementById("logout").hidden = !session.auth_enabled || !session.signed_in;
    if (!session.signed_in) {
      showLogin(true);
      document.body.dataset.loaded = "login";
      return;
    }
    const [status, events] = await Promise.all([getJSON("api/v1/status"), getJSON("api/v1/usage/events?page_size=20")]);
    renderStatus(status);
    renderEvents(events);
    document.body.dataset.loaded = "true";
  } catch (error) {
    if (error instanceof SignInNeeded) {
      showLogin(true);
      return;
    }
    const banner = document.getElementById("drain-banner");
    banner.textContent = `cpa-usage did not answer: ${error.message}`;
    banner.hidden = false;
  }
}

function setupTheme() {
  const stored = localStorage.getItem("cpa-usage-theme");
  const prefersDark = window.matchMedia("(prefers-color-scheme: dark)").matches;
  document.documentElement.dataset.theme = stored || (prefersDark ? "dark" : "light");
  document.getElementById("theme").addEventListener("click", () => {
    const next = document.documentElement.dataset.theme === "dark" ? "light" : "dark";
    document.documentElement.dataset.theme = next;
    localStorage.setItem("cpa-usage-theme", next);
  });
}

setupTheme();
setupLogin();
refresh();
setInterval(refresh, REFRESH_MS);
