// Models and pricing: the models in use (unpriced ones stand out) and the price editor.

import { act, api, modelPath } from "../api.js";
import { card, confirmButton, dataTable, h, note, notify, pill } from "../dom.js";
import * as fmt from "../format.js";
import { t } from "../i18n.js";
import { apiParams } from "../state.js";

const PRICE_FIELDS = ["input", "output", "cache_read", "cache_write", "reasoning"];

export default {
  range: "all",
  filters: false,
  owner: true,
  async load(params) {
    const [used, pricing] = await Promise.all([api.get("models/used", apiParams(params, this)), api.get("pricing")]);
    return { used: used.items, prices: pricing.items, defaults: pricing.defaults };
  },
  render(root, data, { reload }) {
    const editor = priceEditor(reload);
    const unpriced = data.used.filter((model) => !model.priced);
    root.append(
      card(t("models_in_use"), [
        unpriced.length ? h("p", { class: "note warn", id: "unpriced-note" }, t("n_unpriced", { n: unpriced.length, count: unpriced.length })) : null,
        usedTable(data.used, editor)], { wide: true }),
      card(t("your_prices"), [note(t("prices_help")), editor.element,
        data.prices.length ? priceTable(data.prices, editor, reload, "prices") : note(t("no_prices"))],
      { wide: true, id: "prices-card" }),
      card(t("default_prices", { date: data.defaults.date }),
        h("details", {}, h("summary", {}, t("show_defaults", { n: data.defaults.items.length })),
          priceTable(data.defaults.items, editor, reload, "defaults")), { wide: true }),
    );
  },
};

function usedTable(models, editor) {
  const columns = [
    { label: t("model"), value: (model) => h("code", {}, model.model) },
    { label: t("price"), value: (model) => (model.priced
      ? h("span", {}, h("code", {}, model.price_pattern), " ", pill(t(`source_${model.price_source}`), model.price_source === "user" ? "ok" : ""))
      : h("span", { class: "pills" }, pill(t("unpriced"), "warn"),
        h("button", { type: "button", class: "small", onclick: () => editor.fill({ model: model.model }) }, t("set_price")))) },
    { label: t("requests"), num: true, value: (model) => fmt.int(model.requests) },
    { label: t("owner"), value: (model) => model.owned_by || "—" },
    { label: t("offered_by_cpa"), value: (model) => (model.in_cpa ? t("yes") : t("no")) },
  ];
  return dataTable(columns, models, { id: "models-used", rowClass: (model) => (model.priced ? "" : "unpriced"),
    caption: t("models_in_use") });
}

function priceTable(prices, editor, reload, id) {
  const columns = [
    { label: t("model_or_pattern"), value: (price) => h("code", {}, price.model) },
    ...PRICE_FIELDS.map((field) => ({ label: t(`price_${field}`), num: true,
      value: (price) => (price[field] == null ? "—" : fmt.decimal(price[field], 4)) })),
    { label: t("actions"), value: (price) => h("span", { class: "actions" },
      h("button", { type: "button", class: "small", onclick: () => editor.fill(price) }, t(id === "prices" ? "edit" : "override")),
      id === "prices" ? confirmButton(t("delete"), t("confirm_delete"), () => act(async () => {
        await api.del(modelPath(price.model));
        notify(t("price_deleted", { model: price.model }));
        reload();
      }, (error) => notify(error.message, "bad")), { class: "small danger" }) : null) },
  ];
  return dataTable(columns, prices, { id, caption: t("prices") });
}

/** The form that adds or changes one price; the API's validation message is shown as is. */
function priceEditor(reload) {
  const model = h("input", { id: "price-model", autocomplete: "off", spellcheck: "false", placeholder: "gpt-5*" });
  const inputs = Object.fromEntries(PRICE_FIELDS.map((field) => [field,
    h("input", { id: `price-${field}`, type: "number", step: "any", inputmode: "decimal",
      placeholder: field === "reasoning" ? t("as_output") : "" })]));
  const message = h("p", { id: "price-message", class: "note", role: "alert" });
  const field = (id, text, input) => h("label", { class: "field", for: id }, h("span", {}, text), input);
  const clearMarks = () => {
    for (const input of [model, ...Object.values(inputs)]) input.removeAttribute("aria-invalid");
    message.textContent = "";
  };
  const fail = (error) => {
    const bad = error.detail?.field ? inputs[error.detail.field] : model;
    bad?.setAttribute("aria-invalid", "true");
    message.className = "note bad";
    message.textContent = error.detail?.expected ? `${error.message}: ${error.detail.expected}` : error.message;
    bad?.focus();
  };
  const form = h("form", { class: "price-form", id: "price-form", novalidate: true },
    field("price-model", t("model_or_pattern"), model),
    PRICE_FIELDS.map((name) => field(`price-${name}`, t(`price_${name}`), inputs[name])),
    h("div", { class: "form-actions" }, h("button", { type: "submit", class: "primary" }, t("save_price")),
      h("button", { type: "reset" }, t("clear"))),
    message);
  form.addEventListener("reset", clearMarks);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearMarks();
    const name = model.value.trim();
    if (!name) return fail({ message: t("model_required") });
    const body = {};
    for (const [key, input] of Object.entries(inputs)) {
      if (input.value.trim() !== "" || key !== "reasoning") body[key] = input.value.trim() === "" ? null : Number(input.value);
    }
    return act(async () => {
      await api.put(modelPath(name), body);
      notify(t("price_saved", { model: name }));
      reload();
    }, fail);
  });
  return {
    element: form,
    fill(price) {
      clearMarks();
      model.value = price.model;
      for (const [key, input] of Object.entries(inputs)) input.value = price[key] ?? "";
      form.scrollIntoView({ block: "nearest" });
      (price.input == null ? inputs.input : model).focus();
    },
  };
}
