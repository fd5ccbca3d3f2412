// Budgets and alerts: a budget per client key (daily and monthly, in USD and tokens) with
// this local day's and month's spend, its editor, the alerts raised, and the idle keys.

import { act, api } from "../api.js";
import { alertTable, budgetMeters, LIMITS } from "../budget.js";
import { card, confirmButton, dataTable, h, note, notify } from "../dom.js";
import * as fmt from "../format.js";
import { t } from "../i18n.js";

export default {
  range: null,
  filters: false,
  owner: true,
  async load() {
    const [budgets, alerts, idle, seen] = await Promise.all([api.get("budgets"), api.get("alerts"), api.get("keys/idle"),
      api.get("usage/events/filters", new URLSearchParams({ range: "all" }))]);
    return { budgets: budgets.items, alerts, idle, keys: knownKeys([...budgets.items, ...seen.api_keys]) };
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
