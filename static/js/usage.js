// Table columns for rows of usage totals (analysis and credentials share them), and the
// totals row.

import { h } from "./dom.js";
import * as fmt from "./format.js";
import { t } from "./i18n.js";

/** A compact number with the exact one on hover. */
function amount(value) {
  return h("span", { title: fmt.int(value) }, fmt.compact(value));
}

export function usageColumns() {
  return [
    { label: t("requests"), sort: "requests", num: true, value: (row) => fmt.int(row.requests) },
    { label: t("success_rate"), sort: "success_rate", num: true, value: (row) => fmt.percent(row.success_rate),
      cls: (row) => (row.success_rate != null && row.success_rate < 0.9 ? "bad" : "") },
    { label: t("failed"), sort: "failed", num: true, value: (row) => fmt.int(row.failed), cls: (row) => (row.failed ? "bad" : "") },
    { label: t("input"), sort: "input", num: true, value: (row) => amount(row.tokens.input) },
    { label: t("cache_read"), num: true, value: (row) => amount(row.tokens.cache_read) },
    { label: t("output"), sort: "output", num: true, value: (row) => amount(row.tokens.output) },
    { label: t("total_tokens"), sort: "tokens", num: true, value: (row) => amount(row.tokens.total) },
    { label: t("cost"), sort: "cost", num: true, value: cost },
    { label: t("avg_latency"), sort: "avg_latency", num: true, value: (row) => fmt.duration(row.avg_latency_ms) },
    { label: t("avg_ttft"), sort: "avg_ttft", num: true, value: (row) => fmt.duration(row.avg_ttft_ms) },
  ];
}

/** The cost; requests without a price are said in words beside the priced part's cost (an
 * asterisk after "$0.00" read as free), and a row with no price at all says so. */
function cost(row) {
  const unpriced = row.cost.unpriced_requests;
  if (unpriced && unpriced === row.requests) return h("span", { class: "warn" }, t("unpriced"));
  return h("span", {}, fmt.usd(row.cost.usd), unpriced
    ? h("span", { class: "warn unpriced-part", title: t("unpriced_requests", { n: fmt.int(unpriced), count: unpriced }) },
      ` ${t("plus_unpriced", { n: fmt.int(unpriced) })}`) : null);
}

/** The sum of rows of totals; averages are left out (the rows do not carry their counts). */
export function sumTotals(rows) {
  const total = { requests: 0, success: 0, failed: 0, avg_latency_ms: null, avg_ttft_ms: null,
    tokens: { input: 0, cache_read: 0, cache_write: 0, output: 0, reasoning: 0, unclassified: 0, total: 0 },
    cost: { usd: 0, unpriced_requests: 0 } };
  for (const row of rows) {
    for (const key of ["requests", "success", "failed"]) total[key] += row[key];
    for (const key of Object.keys(total.tokens)) total.tokens[key] += row.tokens[key];
    total.cost.usd += row.cost.usd;
    total.cost.unpriced_requests += row.cost.unpriced_requests;
  }
  total.success_rate = total.requests ? total.success / total.requests : null;
  return total;
}

/** One month of a credential's plan in words: "this $200 plan did $1,430 of API work in
 * November 2026: 7.2×" (so far, in the current month; a price not in USD also in USD). */
export function planSentence(month) {
  const plan = month.plan;
  const price = fmt.money(plan.monthly_price, plan.currency) + (plan.currency === "USD" ? "" : ` (${fmt.usd(month.price_usd)})`);
  return t(month.current ? "plan_did_so_far" : "plan_did", { plan: plan.name, price, spent: fmt.usd(month.api_equivalent_usd),
    month: fmt.month(month.month), ratio: `${fmt.decimal(month.ratio, month.ratio < 0.1 ? 3 : 1)}×` });
}
