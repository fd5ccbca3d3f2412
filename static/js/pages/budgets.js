// Budgets and alerts: a budget per client key (daily and monthly, in USD and tokens) with
// this local day's and month's spend, its editor, the alerts raised, the idle keys, and what
// the owner bills keys (a markup on the API cost, or a rate per 1M tokens) month by month.

import { act, api } from "../api.js";
import { alertTable, budgetMeters, LIMITS } from "../budget.js";
import { card, confirmButton, dataTable, h, note, notify } from "../dom.js";
import * as fmt from "../format.js";
import { t } from "../i18n.js";
import { apiParams } from "../state.js";

export default {
  range: null,
  filters: false,
  owner: true,
  async load() {
    const [budgets, alerts, idle, seen, billing] = await Promise.all([api.get("budgets"), api.get("alerts"),
      api.get("keys/idle"), api.get("usage/events/filters", apiParams(new URLSearchParams(), { range: "all" })), api.get("key-billing")]);
    return { budgets: budgets.items, alerts, idle, billing: billing.items,
      keys: knownKeys([...budgets.items, ...seen.api_keys, ...billing.items]) };
  },
  render(root, data, { reload }) {
    const editor = budgetEditor(data.keys, reload);
    root.append(
      card(t("budgets"), [note(t("budgets_help", { zone: fmt.serverZoneName() })), editor.element,
        data.budgets.length ? budgetList(data.budgets, editor, reload) : note(t("no_budgets"))],
      { wide: true, id: "budgets-card" }),
      card(t("alerts"), [note(t(data.alerts.webhook ? "webhook_on" : "webhook_off")), alertTable(data.alerts)],
        { wide: true, id: "alerts-card" }),
      card(t("idle_keys", { n: data.idle.days, count: data.idle.days }), idleTable(data.idle),
        { wide: true, id: "idle-card" }),
      card(t("key_billing"), [note(t("key_billing_help", { zone: fmt.zoneName() })), billingEditor(data.keys, reload),
        billingTable(data.billing, reload)], { wide: true, id: "billing-card" }),
    );
  },
};

/** Every client key the budget editor can name, once each, by its label: the keys used
 * (the API resolves an api_key_id among those) and those with a budget. */
function knownKeys(items) {
  const byId = new Map(items.filter((item) => item.api_key).map((item) => [item.api_key_id, item]));
  return [...byId.values()].sort((a, b) => fmt.keyLabel(a).localeCompare(fmt.keyLabel(b)));
}

function budgetList(budgets, editor, reload) {
  return h("ul", { class: "budget-list", id: "budgets" }, budgets.map((budget) => h("li", {
    class: "budget", dataset: { key: budget.api_key_id } },
  h("div", { class: "budget-head" }, h("strong", {}, fmt.keyLabel(budget)), h("span", { class: "actions" },
    h("button", { type: "button", class: "small", onclick: () => editor.fill(budget) }, t("edit")),
    confirmButton(t("delete"), t("confirm_delete"), () => act(async () => {
      await api.del("budgets", new URLSearchParams({ api_key: budget.api_key_id }));
      notify(t("budget_deleted", { key: fmt.keyLabel(budget) }));
      reload();
    }, (error) => notify(error.message, "bad")), { class: "small danger" }))),
  budgetMeters(budget))));
}

/** The form that sets one key's budget; the API's validation message goes to the field it names. */
function budgetEditor(keys, reload) {
  const key = h("select", { id: "budget-api_key" }, h("option", { value: "" }, t("choose_key")),
    keys.map((item) => h("option", { value: item.api_key_id }, fmt.keyLabel(item))));
  const inputs = Object.fromEntries(LIMITS.map((limit) => {
    const usd = limit.endsWith("_usd");
    return [limit, h("input", { id: `budget-${limit}`, type: "number", min: "0", step: usd ? "any" : "1",
      inputmode: usd ? "decimal" : "numeric", placeholder: t("no_limit") })];
  }));
  const fields = { api_key: key, ...inputs };
  const errors = Object.fromEntries(Object.keys(fields).map((name) => [name,
    h("span", { class: "field-error bad", id: `budget-${name}-error`, role: "alert" })]));
  for (const [name, input] of Object.entries(fields)) input.setAttribute("aria-describedby", errors[name].id);
  const message = h("p", { id: "budget-message", class: "note bad", role: "alert" });
  const field = (name) => h("label", { class: "field" }, h("span", {}, t(`limit_${name}`)), fields[name], errors[name]);
  const clearMarks = () => {
    for (const [name, input] of Object.entries(fields)) {
      input.removeAttribute("aria-invalid");
      errors[name].textContent = "";
    }
    message.textContent = "";
  };
  const fail = (error) => {
    const named = (error.detail?.field ? [error.detail.field] : error.detail?.fields || []).filter((name) => fields[name]);
    const text = error.detail?.expected ? `${error.message}: ${error.detail.expected}` : error.message;
    for (const name of named) fields[name].setAttribute("aria-invalid", "true");
    if (named.length === 1) errors[named[0]].textContent = text;
    else message.textContent = text;
    (fields[named[0]] || key).focus();
  };
  const form = h("form", { class: "budget-form", id: "budget-form", novalidate: true },
    Object.keys(fields).map(field),
    h("div", { class: "form-actions" }, h("button", { type: "submit", class: "primary" }, t("save_budget")),
      h("button", { type: "reset" }, t("clear"))),
    message);
  form.addEventListener("reset", clearMarks);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearMarks();
    const unreadable = LIMITS.find((limit) => inputs[limit].validity.badInput);
    if (unreadable) return fail({ message: t("not_a_number"), detail: { field: unreadable } });
    const body = { api_key: key.value };
    for (const [limit, input] of Object.entries(inputs)) body[limit] = input.value.trim() === "" ? null : Number(input.value);
    const name = key.selectedOptions[0].textContent;
    return act(async () => {
      await api.put("budgets", body);
      notify(t("budget_saved", { key: name }));
      reload();
    }, fail);
  });
  return {
    element: form,
    fill(budget) {
      clearMarks();
      key.value = budget.api_key_id;
      for (const [limit, input] of Object.entries(inputs)) input.value = budget.limits[limit] ?? "";
      form.scrollIntoView({ block: "nearest" });
      inputs.daily_usd.focus();
    },
  };
}


function idleTable({ days, items }) {
  if (!items.length) return note(t("no_idle_keys"));
  const columns = [
    { label: t("api_key"), value: (item) => fmt.keyLabel(item) },
    { label: t("last_used"), value: (item) => (item.last_used_at ? fmt.dateTime(item.last_used_at, false) : t("never")) },
    { label: t("idle_for"), num: true, value: (item) => (item.idle_days == null ? t("never_used")
      : t("n_days", { n: fmt.int(item.idle_days), count: item.idle_days })) },
    { label: t("in_cpa_list"), value: (item) => t(item.configured_in_cpa ? "yes" : "no") },
  ];
  return dataTable(columns, items, { id: "idle-keys", caption: t("idle_keys", { n: days, count: days }) });
}

/** The rule that bills a key, in words. */
function billingRule(item) {
  return item.markup != null ? t("markup_is", { n: fmt.decimal(item.markup, 4) })
    : t("rate_is", { usd: fmt.usd(item.usd_per_million_tokens) });
}

/** Each billed key's months, newest first: its API cost beside what it is billed. */
function billingTable(items, reload) {
  if (!items.length) return note(t("no_billing"));
  const rows = items.flatMap((item) => item.months.map((month, index) => ({ ...month, item, first: index === 0 })));
  const columns = [
    { label: t("api_key"), value: (row) => (row.first ? h("span", { class: "stack" }, h("strong", {}, fmt.keyLabel(row.item)),
      confirmButton(t("delete"), t("confirm_delete"), () => act(async () => {
        await api.del("key-billing", new URLSearchParams({ api_key: row.item.api_key_id }));
        notify(t("billing_deleted", { key: fmt.keyLabel(row.item) }));
        reload();
      }, (error) => notify(error.message, "bad")), { class: "small danger" })) : "") },
    { label: t("billing_rule"), value: (row) => (row.first ? billingRule(row.item) : "") },
    { label: t("month"), value: (row) => fmt.month(row.month) },
    { label: t("total_tokens"), num: true, value: (row) => fmt.int(row.tokens) },
    { label: t("api_cost"), num: true, value: (row) => fmt.usd(row.cost_usd) },
    { label: t("billed"), num: true, value: (row) => h("strong", {}, fmt.usd(row.billed_usd)) },
  ];
  return dataTable(columns, rows, { id: "billing", caption: t("key_billing") });
}

/** The form that bills one key by a markup or a rate; the API's refusal is said below it. */
function billingEditor(keys, reload) {
  const key = h("select", { id: "billing-api_key" }, h("option", { value: "" }, t("choose_key")),
    keys.map((item) => h("option", { value: item.api_key_id }, fmt.keyLabel(item))));
  const rule = h("select", { id: "billing-rule" }, h("option", { value: "markup" }, t("billing_markup")),
    h("option", { value: "usd_per_million_tokens" }, t("billing_rate")));
  const value = h("input", { id: "billing-value", type: "number", min: "0", step: "any", inputmode: "decimal" });
  const message = h("p", { id: "billing-message", class: "note bad", role: "alert" });
  const field = (text, input) => h("label", { class: "field" }, h("span", {}, text), input);
  const form = h("form", { class: "budget-form", id: "billing-form", novalidate: true },
    field(t("limit_api_key"), key), field(t("billing_rule"), rule), field(t("billing_value"), value),
    h("div", { class: "form-actions" }, h("button", { type: "submit", class: "primary" }, t("save_billing"))), message);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    message.textContent = "";
    const name = key.selectedOptions[0].textContent;
    return act(async () => {
      await api.put("key-billing", { api_key: key.value, [rule.value]: value.value.trim() === "" ? null : Number(value.value) });
      notify(t("billing_saved", { key: name }));
      reload();
    }, (error) => {
      message.textContent = error.detail?.expected ? `${error.message}: ${error.detail.expected}` : error.message;
    });
  });
  return form;
}
