// Budgets: what a client key spent in this local day and month against each of its
// limits, as bars (amber from 80%, red from 100%). The overview of one key and the
// budgets page share them.

import { h } from "./dom.js";
import * as fmt from "./format.js";
import { t } from "./i18n.js";

export const LIMITS = ["daily_usd", "monthly_usd", "daily_tokens", "monthly_tokens"];

/** One limit as a labelled bar; null when the budget has no such limit. */
function meter(budget, limit) {
  const [period, unit] = limit.split("_");
  const { spent, limit: cap, ratio } = budget[period][unit];
  if (cap == null) return null;
  const level = ratio >= 1 ? "over" : ratio >= 0.8 ? "near" : "";
  const amount = unit === "usd" ? t("usd_of", { spent: fmt.usd(spent), limit: fmt.usd(cap) })
    : t("tokens_of", { spent: fmt.compact(spent), limit: fmt.compact(cap) });
  const fill = h("span", { class: "meter-fill" });
  fill.style.width = `${Math.min(100, ratio * 100)}%`;
  return h("div", { class: `meter ${level}`, dataset: { limit } },
    h("div", { class: "meter-head" }, h("span", {}, t(`budget_${period}`), " ",
      h("span", { class: "muted" }, budget[period].period)), h("strong", { class: "meter-ratio" }, fmt.percent(ratio))),
    h("div", { class: "meter-track", role: "progressbar", "aria-label": `${t(`budget_${period}`)}: ${amount}`,
      "aria-valuemin": "0", "aria-valuemax": "100", "aria-valuenow": String(Math.min(100, Math.round(ratio * 100))),
      "aria-valuetext": fmt.percent(ratio) }, fill),
    h("div", { class: "meter-amount" }, amount));
}

/** Every limit of a budget (an answer of /budgets, or an overview's ``budget``). */
export function budgetMeters(budget) {
  return h("div", { class: "meters" }, LIMITS.map((limit) => meter(budget, limit)));
}
