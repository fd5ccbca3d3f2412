// Models and pricing: the models in use (unpriced ones stand out) and the price editor,
// with each model's price history (a price is in force from its date until the next).

import { act, api, modelPath } from "../api.js";
import { categoryBars, color } from "../charts.js";
import { card, confirmButton, dataTable, h, note, notify, pill } from "../dom.js";
import * as fmt from "../format.js";
import { t } from "../i18n.js";
import { apiParams } from "../state.js";

const PRICE_FIELDS = ["input", "output", "cache_read", "cache_write", "reasoning"];
// The thresholds a long-context price may have (the API's PROMPT_BAND_EDGES): prompt tokens.
const LONG_CONTEXT_ABOVE = [100000, 128000, 199999, 200000, 272000, 512000];
// The kinds of token a cost is split into (the API's cost.by_kind), bottom of a bar first.
const COST_KINDS = ["input", "cache_read", "cache_write", "output", "reasoning"];
const TOP = 12; // the chart's bars: the costliest models (the table lists them all)

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
    const costly = data.used.filter((model) => model.cost.usd > 0).sort((a, b) => b.cost.usd - a.cost.usd);
    const chart = h("div", { class: "chart", id: "cost-kinds-chart" });
    root.append(
      card(t("models_in_use"), [
        unpriced.length ? h("p", { class: "note warn", id: "unpriced-note" }, t("n_unpriced", { n: unpriced.length, count: unpriced.length })) : null,
        usedTable(data.used, editor)], { wide: true }),
      card(t("cost_by_kind"), costly.length ? [note(t("cost_by_kind_help")), chart, costTable(costly)] : note(t("no_cost")),
        { wide: true, id: "cost-kinds" }),
      card(t("your_prices"), [note(t("prices_help")), editor.element,
        data.prices.length ? priceTable(data.prices, editor, reload, "prices") : note(t("no_prices"))],
      { wide: true, id: "prices-card" }),
      defaultsCard(data.defaults, editor, reload),
    );
    if (costly.length) costChart(chart, costly.slice(0, TOP));
  },
};

/** The kinds a split of these models shows: reasoning only where a price bills it apart. */
function kindsOf(models) {
  return COST_KINDS.filter((kind) => kind !== "reasoning" || models.some((model) => model.cost.by_kind.reasoning != null));
}

/** Each model's cost as a bar of its kinds of token (the costliest first); its text
 * alternative names every model's split. */
function costChart(element, models) {
  const colors = { reasoning: color("chart-5") };
  categoryBars(element, { labels: models.map((model) => model.model), label: t("cost_by_kind"), format: fmt.usd,
    axisFormat: fmt.usdCompact, series: kindsOf(models).map((kind) => ({ label: t(`price_${kind}`),
      values: models.map((model) => model.cost.by_kind[kind] ?? 0), color: colors[kind] || color(`k-${kind}`) })) });
}

/** The split in figures: each kind's USD and its share of the model's cost. */
function costTable(models) {
  const share = (model, kind) => {
    const usd = model.cost.by_kind[kind];
    if (usd == null) return h("span", { class: "muted" }, t("in_output"));
    return [fmt.usd(usd), h("span", { class: "muted small" }, ` ${fmt.percent(usd / model.cost.usd)}`)];
  };
  const columns = [
    { label: t("model"), value: (model) => h("code", {}, model.model) },
    { label: t("cost"), num: true, value: (model) => [fmt.usd(model.cost.usd), ...costNotes(model.cost)] },
    ...kindsOf(models).map((kind) => ({ label: t(`price_${kind}`), num: true, value: (model) => share(model, kind) })),
  ];
  return dataTable(columns, models, { id: "cost-split", cards: true, caption: t("cost_by_kind") });
}

/** What of a cost is unpriced or assumed, each a small note when there is any. */
function costNotes(cost) {
  return [["n_unpriced_requests", cost.unpriced_requests], ["n_tier_fallback_requests", cost.tier_fallback_requests],
    ["n_assumed_cache_writes", cost.assumed_cache_write_tokens]]
    .map(([key, n]) => (n ? h("span", { class: "muted small" }, ` ${t(key, { n: fmt.int(n) })}`) : null));
}

/** The built-in prices: where they come from (source, version, date), or why there are none. */
function defaultsCard(defaults, editor, reload) {
  if (defaults.error) {
    return card(t("built_in_prices"), h("p", { class: "note warn", id: "defaults-error" },
      t("no_defaults", { error: defaults.error })), { wide: true, id: "defaults-card" });
  }
  return card(t("default_prices", defaults), [
    h("p", { class: "note muted", id: "defaults-source" }, t("defaults_from"), " ",
      h("a", { href: defaults.url, rel: "noopener noreferrer", target: "_blank" }, `${defaults.source} ${defaults.version}`),
      ` ${t("defaults_help")}`),
    h("details", {}, h("summary", {}, t("show_defaults", { n: defaults.models })),
      priceTable(defaults.items, editor, reload, "defaults"))], { wide: true, id: "defaults-card" });
}

function usedTable(models, editor) {
  const columns = [
    { label: t("model"), value: (model) => h("code", {}, model.model) },
    { label: t("price_per_m"), value: (model) => (model.priced
      ? h("span", { class: "price-now" }, h("span", {}, t("price_in_out", { input: fmt.usd(model.price.input),
        output: fmt.usd(model.price.output) })), " ", pill(t(`source_${model.price_source}`), model.price_source === "user" ? "ok" : ""),
      h("span", { class: "muted small" }, ` ${t("matched_by", { pattern: model.price_pattern })}`))
      : h("span", { class: "pills" }, pill(t("unpriced"), "warn"),
        h("button", { type: "button", class: "small", onclick: () => editor.fill({ model: model.model }) }, t("set_price")))) },
    { label: t("requests"), num: true, value: (model) => fmt.int(model.requests) },
    { label: t("owner"), value: (model) => model.owned_by || "—" },
    { label: t("offered_by_cpa"), value: (model) => (model.in_cpa ? t("yes") : t("no")) },
  ];
  return dataTable(columns, models, { id: "models-used", rowClass: (model) => (model.priced ? "" : "unpriced"), cards: true,
    caption: t("models_in_use") });
}

/** When a price took effect, in UTC as the API counts it: a date for a UTC midnight. */
function effectiveFrom(iso) {
  if (!iso) return t("since_always");
  const [date, time] = iso.split("T");
  return time.startsWith("00:00:00") ? date : `${date} ${time.slice(0, 5)} UTC`;
}

/** A long-context tier in short ("> 200,000: 6 / 22.5", input / output), every rate in its title. */
function longContext(long) {
  if (!long) return h("span", { class: "muted" }, "—");
  const rates = PRICE_FIELDS.filter((field) => long[field] != null)
    .map((field) => `${t(`price_${field}`)} ${fmt.decimal(long[field], 4)}`).join(", ");
  return h("span", { class: "long-context", title: rates }, t("long_context_short", {
    above: fmt.int(long.above), input: fmt.decimal(long.input, 4), output: fmt.decimal(long.output, 4) }));
}

function priceTable(prices, editor, reload, id) {
  const mine = id === "prices";
  // a model's later prices of a tier under its first one: its history, oldest first
  const later = new Set(prices.filter((price, index) => index > 0 && prices[index - 1].model === price.model
    && prices[index - 1].tier === price.tier));
  // a built-in price names the source's model and the names it matches; overriding it prices the first
  const names = (price) => (mine ? [price.model] : price.match);
  const columns = [
    { label: t("model_or_pattern"), wrap: true, value: (price) => (later.has(price)
      ? h("span", { class: "muted", title: names(price).join(" ") }, "↳ ", h("code", {}, names(price)[0]))
      : h("span", {}, names(price).map((name) => [h("code", {}, name), " "]),
        mine ? null : h("span", { class: "muted small" }, price.provider))) },
    // the built-in prices are all the standard tier's: only the owner's have a tier to show
    mine ? { label: t("price_tier"), value: (price) => (price.tier ? h("code", {}, price.tier)
      : h("span", { class: "muted" }, t("tier_standard"))) } : null,
    { label: t("price_from"), value: (price) => effectiveFrom(price.effective_from) },
    ...PRICE_FIELDS.map((field) => ({ label: t(`price_${field}`), num: true,
      value: (price) => (price[field] == null ? "—" : fmt.decimal(price[field], 4)) })),
    { label: t("price_long_context"), value: (price) => longContext(price.long_context) },
    { label: t("actions"), value: (price) => h("span", { class: "actions" },
      h("button", { type: "button", class: "small", onclick: () => editor.fill({ ...price, model: names(price)[0] }) },
        t(mine ? "edit" : "override")),
      mine ? h("button", { type: "button", class: "small",
        onclick: () => editor.fill({ ...price, effective_from: null }, true) }, t("price_from_date")) : null,
      mine ? confirmButton(t("delete"), t("confirm_delete"), () => act(async () => {
        // since always is from the epoch's date; the standard tier's is named, or every tier's would go
        const from = price.effective_from || "1970-01-01";
        await api.del(modelPath(price.model), new URLSearchParams({ effective_from: from, tier: price.tier || "default" }));
        notify(t("price_deleted", { model: price.model }));
        reload();
      }, (error) => notify(error.message, "bad")), { class: "small danger" }) : null) },
  ].filter(Boolean);
  return dataTable(columns, prices, { id, caption: t("prices") });
}

/** The form that adds or changes one price; the API's validation message is shown as is. */
function priceEditor(reload) {
  const model = h("input", { id: "price-model", autocomplete: "off", spellcheck: "false", placeholder: "gpt-5*" });
  const inputs = Object.fromEntries(PRICE_FIELDS.map((field) => [field,
    h("input", { id: `price-${field}`, type: "number", step: "any", inputmode: "decimal",
      placeholder: field === "reasoning" ? t("as_output") : "" })]));
  const tier = h("input", { id: "price-tier", autocomplete: "off", spellcheck: "false", list: "price-tiers",
    placeholder: t("tier_standard") });
  const tiers = h("datalist", { id: "price-tiers" }, ["priority", "flex"].map((name) => h("option", { value: name })));
  // the long-context tier: a threshold (none: the price has no such tier) and the rates above it
  const longAbove = h("select", { id: "price-long-above" }, h("option", { value: "" }, t("long_context_none")),
    LONG_CONTEXT_ABOVE.map((above) => h("option", { value: String(above) }, fmt.int(above))));
  const longInputs = Object.fromEntries(PRICE_FIELDS.map((field) => [field,
    h("input", { id: `price-long-${field}`, type: "number", step: "any", inputmode: "decimal",
      placeholder: field === "reasoning" ? t("as_output") : "" })]));
  const showLong = () => {
    for (const input of Object.values(longInputs)) input.disabled = !longAbove.value;
  };
  longAbove.addEventListener("change", showLong);
  const from = h("input", { id: "price-from", type: "date" });
  const replace = h("input", { id: "price-replace", type: "checkbox" });
  const message = h("p", { id: "price-message", class: "note", role: "alert" });
  const field = (id, text, input) => h("label", { class: "field", for: id }, h("span", {}, text), input);
  const clearMarks = () => {
    for (const input of [model, tier, from, longAbove, ...Object.values(inputs), ...Object.values(longInputs)]) {
      input.removeAttribute("aria-invalid");
    }
    message.textContent = "";
  };
  const fail = (error) => {
    const fields = { ...inputs, tier, effective_from: from, replace_history: replace, long_context: longAbove,
      "long_context.above": longAbove,
      ...Object.fromEntries(Object.entries(longInputs).map(([key, input]) => [`long_context.${key}`, input])) };
    const bad = error.detail?.field ? fields[error.detail.field] : model;
    bad?.setAttribute("aria-invalid", "true");
    message.className = "note bad";
    message.textContent = error.detail?.expected ? `${error.message}: ${error.detail.expected}` : error.message;
    bad?.focus();
  };
  const form = h("form", { class: "price-form", id: "price-form", novalidate: true },
    field("price-model", t("model_or_pattern"), model),
    field("price-tier", t("price_tier"), tier), tiers,
    PRICE_FIELDS.map((name) => field(`price-${name}`, t(`price_${name}`), inputs[name])),
    h("fieldset", { class: "long-context-fields", id: "price-long-context" },
      h("legend", {}, t("price_long_context")), h("p", { class: "muted small" }, t("long_context_help")),
      field("price-long-above", t("long_context_threshold"), longAbove),
      PRICE_FIELDS.map((name) => field(`price-long-${name}`, t(`price_${name}`), longInputs[name]))),
    field("price-from", t("price_effective_from"), from),
    h("label", { class: "check", for: "price-replace" }, replace, h("span", {}, t("price_replace_history"))),
    h("div", { class: "form-actions" }, h("button", { type: "submit", class: "primary" }, t("save_price")),
      h("button", { type: "reset" }, t("clear"))),
    message);
  form.addEventListener("reset", () => {
    clearMarks();
    setTimeout(showLong); // after the form has put its fields back
  });
  showLong();
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearMarks();
    const name = model.value.trim();
    if (!name) return fail({ message: t("model_required") });
    const body = { tier: tier.value.trim() || null, effective_from: from.value || null, replace_history: replace.checked };
    const rates = (fields) => {
      const given = {};
      for (const [key, input] of Object.entries(fields)) {
        if (input.value.trim() !== "" || key !== "reasoning") given[key] = input.value.trim() === "" ? null : Number(input.value);
      }
      return given;
    };
    Object.assign(body, rates(inputs));
    body.long_context = longAbove.value ? { above: Number(longAbove.value), ...rates(longInputs) } : null;
    return act(async () => {
      await api.put(modelPath(name), body);
      notify(t("price_saved", { model: name }));
      reload();
    }, fail);
  });
  return {
    element: form,
    /** ``newDate``: a new price of the model, from a date to choose. */
    fill(price, newDate = false) {
      clearMarks();
      model.value = price.model;
      tier.value = price.tier ?? "";
      for (const [key, input] of Object.entries(inputs)) input.value = price[key] ?? "";
      longAbove.value = price.long_context ? String(price.long_context.above) : "";
      for (const [key, input] of Object.entries(longInputs)) input.value = price.long_context?.[key] ?? "";
      showLong();
      from.value = price.effective_from ? price.effective_from.slice(0, 10) : "";
      replace.checked = false;
      form.scrollIntoView({ block: "nearest" });
      (newDate ? from : price.input == null ? inputs.input : model).focus();
    },
  };
}
