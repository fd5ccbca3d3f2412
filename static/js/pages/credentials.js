// Credentials: success and failure per credential (source, auth_index), joined with CPA's
// auth files (disabled, unavailable, status), config keys, and the state CPA reported with
// each credential's errors (its errors channel: quota exhausted until when, and so on);
// subscriptions: each credential's plan, its editor, and per month the plan's price against
// the API-equivalent spend (what an OAuth login's use would have cost through the API).

import { act, api } from "../api.js";
import { categoryBars, metricSeries } from "../charts.js";
import { card, confirmButton, dataTable, h, note, notify, pill } from "../dom.js";
import * as fmt from "../format.js";
import { t } from "../i18n.js";
import { apiParams, hrefFor, withChanges } from "../state.js";
import { planSentence, sumTotals, usageColumns } from "../usage.js";

const SHOWN = ["requests", "success_rate", "failed", "tokens", "cost"];
const ERRORS_SHOWN = 50; // the newest credential errors listed below the table

export default {
  range: "24h",
  filters: true,
  owner: true,
  async load(params) {
    const range = apiParams(params, { range: this.range });
    const [usage, files, metadata, errors, plans] = await Promise.all([
      api.get("usage/credentials", apiParams(params, this)),
      api.get("auth-files", apiParams(params, this)),
      api.get("provider-metadata"),
      api.get("credential-errors", new URLSearchParams([...range, ["page_size", "500"]])),
      api.get("plans", range)]);
    const rows = joined(usage.items, files.items, configKeys(metadata.providers), usage.states, errorsOf(errors.items));
    const planOf = new Map(plans.items.map((item) => [item.auth_index, item]));
    for (const row of rows) row.plan = planOf.get(row.auth_index);
    return { rows, fetchedAt: files.fetched_at, errors, plans: plans.items };
  },
  render(root, data, { params, reload }) {
    const editor = planEditor(data.rows, reload);
    const columns = [
      { label: t("credential"), wrap: true, value: (row) => credentialName(row, params) },
      { label: t("state"), wrap: true, value: state },
      ...usageColumns().filter((column) => SHOWN.includes(column.sort)).map((column) => (column.sort === "cost"
        ? { ...column, value: (row) => (isOAuth(row) ? h("div", { class: "stack" }, column.value(row),
          h("span", { class: "muted small" }, t("api_equivalent"))) : column.value(row)) } : column)),
      { label: t("plan"), wrap: true, value: (row) => planCell(row, editor) },
      { label: t("last_success"), value: (row) => (row.last_success_at ? fmt.ago(row.last_success_at) : "—") },
      { label: t("last_failure"), value: lastFailure, cls: (row) => (row.last_failure_at ? "bad" : "") },
      { label: t("provider"), value: (row) => row.provider || row.file?.provider || row.config?.kind || "—" },
      { label: t("errors_column"), num: true, value: (row) => (row.errors.length ? fmt.int(row.errors.length) : "—"),
        cls: (row) => (row.errors.length ? "bad" : "") },
    ];
    const used = data.rows.filter((row) => row.requests);
    const chart = h("div", { class: "chart", id: "credentials-chart" });
    root.append(
      card(t("page_credentials"), [
        dataTable(columns, data.rows, { id: "credentials", caption: t("page_credentials"),
          rowClass: (row) => (row.file?.disabled || row.file?.unavailable ? "dim" : "") }),
        note(t("auth_files_fetched", { when: fmt.whenAndAgo(data.fetchedAt) })),
      ], { wide: true }),
      card(t("plans"), [note(t("plans_help", { zone: fmt.zoneName() })), editor.element, planList(data.plans, data.rows, reload)],
        { wide: true, id: "plans-card" }),
      card(t("requests_by_credential"), used.length ? chart : note(t("no_data")), { wide: true }),
      card(t("credential_errors_title", { n: fmt.int(data.errors.total) }), errorTable(data.errors, data.rows),
        { wide: true, id: "credential-errors" }),
    );
    if (used.length) {
      const top = used.slice(0, 10);
      categoryBars(chart, { labels: top.map(label), label: t("requests_by_credential"), ...metricSeries("requests", top) });
    }
  },
};

/** An OAuth login (CPA's auth files): its cost is what its use would have cost through the API. */
function isOAuth(row) {
  return row.plan ? row.plan.oauth : row.file?.account_type === "oauth";
}

/** The plan a credential holds this month (or its latest), and the button that edits it. */
function planCell(row, editor) {
  const held = row.plan?.plans.at(-1);
  const button = h("button", { type: "button", class: "small", onclick: () => editor.fill(row) }, t(held ? "edit" : "set_plan"));
  if (!held) return button;
  const now = row.plan.months.find((month) => month.current);
  return h("div", { class: "stack" }, h("span", { class: "nowrap" }, `${held.name} · ${fmt.money(held.monthly_price, held.currency)}`),
    now ? h("span", { class: "muted small" }, `${fmt.decimal(now.ratio, now.ratio < 0.1 ? 3 : 1)}× ${t("this_month")}`) : null, button);
}

/** Per credential with a plan: its months, newest first, in words, and its plans to remove. */
function planList(items, rows, reload) {
  if (!items.length) return note(t("no_plans"));
  const nameOf = new Map(rows.map((row) => [row.auth_index, label(row)]));
  return h("ul", { class: "budget-list", id: "plans" }, items.map((item) => h("li", { class: "budget", dataset: { auth: item.auth_index } },
    h("div", { class: "budget-head" }, h("strong", {}, item.label || nameOf.get(item.auth_index) || item.auth_index),
      item.oauth ? pill(t("api_equivalent"), "muted") : null),
    h("ul", { class: "plan-months" }, item.months.map((month) => h("li", { dataset: { month: month.month } }, planSentence(month)))),
    h("p", { class: "muted small plan-history" }, item.plans.map((plan) => h("span", {},
      `${t("plan_from", { name: plan.name, price: fmt.money(plan.monthly_price, plan.currency), month: fmt.month(plan.from_month) })} `,
      confirmButton(t("delete"), t("confirm_delete"), () => act(async () => {
        await api.del("plans", new URLSearchParams({ auth_index: item.auth_index, from_month: plan.from_month }));
        notify(t("plan_deleted", { plan: plan.name }));
        reload();
      }, (error) => notify(error.message, "bad")), { class: "small danger" }), " "))))));
}

/** The form that sets a credential's plan from a month on; the API's refusal names its field. */
function planEditor(rows, reload) {
  const today = new Date();
  const fields = {
    auth_index: h("select", { id: "plan-auth_index" }, h("option", { value: "" }, t("choose_credential")),
      rows.map((row) => h("option", { value: row.auth_index }, label(row)))),
    name: h("input", { id: "plan-name", placeholder: "Max" }),
    monthly_price: h("input", { id: "plan-monthly_price", type: "number", min: "0", step: "any", inputmode: "decimal" }),
    currency: h("input", { id: "plan-currency", value: "USD", maxlength: "3", size: "4" }),
    usd_rate: h("input", { id: "plan-usd_rate", type: "number", min: "0", step: "any", inputmode: "decimal", placeholder: "—" }),
    from_month: h("input", { id: "plan-from_month", type: "month",
      value: `${today.getFullYear()}-${String(today.getMonth() + 1).padStart(2, "0")}` }),
  };
  const message = h("p", { id: "plan-message", class: "note bad", role: "alert" });
  const form = h("form", { class: "budget-form", id: "plan-form", novalidate: true },
    Object.entries(fields).map(([name, input]) => h("label", { class: "field" }, h("span", {}, t(`plan_${name}`)), input)),
    h("div", { class: "form-actions" }, h("button", { type: "submit", class: "primary" }, t("save_plan"))), message);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    message.textContent = "";
    for (const input of Object.values(fields)) input.removeAttribute("aria-invalid");
    const currency = fields.currency.value.trim().toUpperCase();
    const number = (input) => (input.value.trim() === "" ? null : Number(input.value));
    const body = { auth_index: fields.auth_index.value, name: fields.name.value, monthly_price: number(fields.monthly_price),
      currency, usd_rate: currency === "USD" ? null : number(fields.usd_rate), from_month: fields.from_month.value };
    return act(async () => {
      await api.put("plans", body);
      notify(t("plan_saved", { plan: body.name }));
      reload();
    }, (error) => {
      const field = fields[error.detail?.field] || fields.auth_index;
      field.setAttribute("aria-invalid", "true");
      message.textContent = error.detail?.expected ? `${error.message}: ${error.detail.expected}` : error.message;
      field.focus();
    });
  });
  return {
    element: form,
    fill(row) {
      const held = row.plan?.plans.at(-1);
      fields.auth_index.value = row.auth_index;
      if (held) {
        for (const name of ["name", "monthly_price", "currency", "usd_rate"]) fields[name].value = held[name] ?? "";
      }
      form.scrollIntoView({ block: "nearest" });
      fields.name.focus();
    },
  };
}

/** The credentials in CPA's config (API keys) as {kind, key, disabled}, by auth_index and
 * by their key as the API masks it. An OpenAI-compatible provider without key entries
 * has its auth-index on the provider itself; v8's key groups may give keys without one,
 * and then the key names the credential: an API-key credential's source is its key. */
function configKeys(providers) {
  const byIndex = new Map();
  const byKey = new Map(); // a masked key that two entries share names neither
  const add = (index, config) => {
    if (index) byIndex.set(index, config);
    if (config.key) byKey.set(config.key, byKey.has(config.key) ? null : config);
  };
  for (const [list, entries] of Object.entries(providers || {})) {
    for (const entry of entries || []) {
      if (list !== "openai-compatibility") {
        add(entry["auth-index"], { kind: list, key: entry["api-key"], disabled: entry.disabled });
        continue;
      }
      const keys = entry["api-key-entries"] || [];
      for (const key of keys) add(key["auth-index"], { kind: entry.name, key: key["api-key"], disabled: entry.disabled });
      if (!keys.length && entry["auth-index"]) add(entry["auth-index"], { kind: entry.name, key: null, disabled: entry.disabled });
    }
  }
  return { get: (item) => byIndex.get(item.auth_index) || (item.source && byKey.get(item.source)) || undefined };
}

/** auth_index -> its credential errors in the range, newest first. */
function errorsOf(items) {
  const errors = new Map();
  for (const item of items) {
    if (!errors.has(item.auth_index)) errors.set(item.auth_index, []);
    errors.get(item.auth_index).push(item);
  }
  return errors;
}

/** The usage rows with their auth file or config key, CPA's reported state and errors,
 * then the auth files unused in the range. */
function joined(items, files, keys, states, errors) {
  const fileOf = new Map(files.map((file) => [file.auth_index, file]));
  const extra = (index) => ({ reported: states[index] || null, errors: errors.get(index) || [] });
  const rows = items.map((item) => ({ ...item, file: fileOf.get(item.auth_index), config: keys.get(item),
    ...extra(item.auth_index) }));
  const seen = new Set(items.map((item) => item.auth_index));
  for (const file of files) {
    if (!seen.has(file.auth_index)) rows.push({ ...sumTotals([]), auth_index: file.auth_index, file, ...extra(file.auth_index) });
  }
  return rows;
}

function label(row) {
  return row.file?.label || row.file?.email || row.source || row.config?.key || row.auth_index;
}

function credentialName(row, params) {
  const name = label(row);
  const detail = row.file?.name || (row.config ? [row.config.kind, row.config.key].filter(Boolean).join(" · ") : null);
  const title = row.source_id
    ? h("a", { class: "nowrap", href: hrefFor("events", withChanges(params, { source: [row.source_id] })) }, name)
    : h("span", { class: "nowrap" }, name);
  return h("div", { class: "stack" }, title, h("span", { class: "muted small" }, detail ? `${detail} · ${row.auth_index}` : row.auth_index));
}

/** What CPA said of the credential with its last error, while that still holds (a quota
 * exhausted until a time in the future, a credential marked unavailable). */
function reportedState(reported) {
  if (!reported) return null;
  const until = reported.quota?.next_recover_at || reported.next_retry_at;
  const pending = until && new Date(until) > new Date();
  if (!pending && !reported.disabled) return null;
  const text = reported.quota?.exceeded ? t("quota_exhausted") : reported.disabled ? t("disabled")
    : reported.state_message || t("unavailable");
  return h("span", { class: "muted small" },
    `${t("cpa_reported", { when: fmt.ago(reported.timestamp) })}: ${text}${pending ? ` · ${t("until", { when: fmt.dateTime(until, false) })}` : ""}`);
}

function state(row) {
  const file = row.file;
  const reported = reportedState(row.reported);
  if (!file) {
    const base = row.config ? pill(row.config.disabled ? t("disabled") : t("config_key"), row.config.disabled ? "bad" : "")
      : pill(t("not_listed"), "muted");
    return reported ? h("div", { class: "stack" }, base, reported) : base;
  }
  const pills = [];
  if (file.disabled) pills.push(pill(t("disabled"), "bad"));
  if (file.unavailable) pills.push(pill(t("unavailable"), "warn"));
  if (!file.disabled && !file.unavailable) pills.push(pill(file.status || t("active"), file.status === "error" ? "bad" : "ok"));
  const message = [file.status_message, file.next_retry_after && t("retry_after", { when: fmt.dateTime(file.next_retry_after, false) })]
    .filter(Boolean).join(" · ");
  return h("div", { class: "stack" }, h("span", { class: "pills" }, pills), message ? h("span", { class: "muted small" }, message) : null,
    reported);
}

/** The newest errors CPA reported (its errors channel), each with its credential. */
function errorTable(errors, rows) {
  if (!errors.total) return note(t("no_credential_errors"));
  const nameOf = new Map(rows.map((row) => [row.auth_index, label(row)]));
  const columns = [
    { label: t("time"), value: (error) => fmt.dateTime(error.timestamp) },
    { label: t("credential"), wrap: true, value: (error) => nameOf.get(error.auth_index) || error.auth_id || error.auth_index || "—" },
    { label: t("status_code"), num: true, value: (error) => String(error.status_code), cls: () => "bad" },
    { label: t("model"), value: (error) => error.model || "—" },
    { label: t("cpa_state"), wrap: true, value: (error) => [error.state_message || error.state,
      error.quota?.next_recover_at && t("until", { when: fmt.dateTime(error.quota.next_recover_at, false) })]
      .filter(Boolean).join(" · ") || "—" },
    { label: t("error"), wrap: true, value: (error) => (error.body ? h("pre", { class: "raw" }, error.body.slice(0, 500)) : "—") },
  ];
  return [dataTable(columns, errors.items.slice(0, ERRORS_SHOWN), { id: "credential-error-table", caption: t("credential_errors") }),
    errors.total > ERRORS_SHOWN ? note(t("newest_n_of", { n: ERRORS_SHOWN, total: fmt.int(errors.total) })) : null];
}

function lastFailure(row) {
  if (!row.last_failure_at) return "—";
  return `${fmt.ago(row.last_failure_at)}${row.last_failure_status ? ` (${row.last_failure_status})` : ""}`;
}
