// Budgets: what a client key spent in this local day and month against each of its
// limits, as bars (amber from 80%, red from 100%), and the alerts they raised. The
// overview of one key (a member's own) and the budgets page share them.

import { dataTable, h, note, pill } from "./dom.js";
import * as fmt from "./format.js";
import { t } from "./i18n.js";
import { isMember } from "./session.js";

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

const ALERT_KINDS = { usd_80: "warn", tokens_80: "warn", usd_100: "bad", tokens_100: "bad", last_hour_usd: "warn" };

/** The alerts whose period is now: today's and this month's (local days of the server's
 * zone), what the owner still has to act on. */
export function activeAlerts(items, now = Date.now()) {
  const { year, month, day } = fmt.localParts(now);
  const two = (number) => String(number).padStart(2, "0");
  const thisMonth = `${year}-${two(month)}`;
  const today = `${thisMonth}-${two(day)}`;
  const current = new Set([`daily:${today}`, `day:${today}`, `monthly:${thisMonth}`]);
  return items.filter((alert) => current.has(alert.period));
}

/** The alerts of an answer of /alerts (a member's: their own), newest first. */
export function alertTable({ items, webhook }) {
  if (!items.length) return note(t("no_alerts"));
  const amounts = (alert) => (alert.unit === "usd" ? `${fmt.usd(alert.value)} / ${fmt.usd(alert.threshold)}`
    : `${fmt.compact(alert.value)} / ${fmt.compact(alert.threshold)} ${t("tokens_unit")}`);
  const columns = [
    { label: t("alert"), value: (alert) => pill(t(`alert_${alert.condition}`), ALERT_KINDS[alert.condition]) },
    ...(isMember() ? [] : [{ label: t("api_key"), value: (alert) => fmt.keyLabel(alert) }]), // a member's are theirs
    { label: t("period"), value: (alert) => {
      const [kind, label] = alert.period.split(":");
      return t(`period_${kind}`, { label });
    } },
    { label: t("value_threshold"), num: true, value: (alert) => h("span", {
      title: alert.unit === "usd" ? null : `${fmt.int(alert.value)} / ${fmt.int(alert.threshold)}` }, amounts(alert)) },
    { label: t("created"), value: (alert) => fmt.dateTime(alert.created_at, false) },
    ...(isMember() ? [] : [{ label: t("delivery"), wrap: true, value: (alert) => delivery(alert, webhook) }]), // the owner's
  ];
  return dataTable(columns, items, { id: "alerts", caption: t("alerts"), cards: true });
}

function delivery(alert, webhook) {
  if (alert.delivered_at) return pill(t("sent_at", { when: fmt.ago(alert.delivered_at) }), "ok");
  if (alert.attempts) {
    return h("span", { class: "bad" }, t("delivery_failed", { n: alert.attempts, count: alert.attempts }),
      alert.last_error ? `: ${alert.last_error}` : "");
  }
  return webhook ? h("span", { class: "muted" }, t("delivery_pending")) : "—";
}
