// Analysis: usage by client API key, by model, or both; a sortable table with totals and a
// chart of its top rows.

import { api } from "../api.js";
import { categoryBars, metricSeries } from "../charts.js";
import { segmented } from "../controls.js";
import { card, dataTable, h, note, pager } from "../dom.js";
import { analysisExport } from "../exports.js";
import * as fmt from "../format.js";
import { t } from "../i18n.js";
import { isMember } from "../session.js";
import { apiParams, hrefFor, withChanges } from "../state.js";
import { usageColumns } from "../usage.js";

const PAGE_SIZE = 100;
const TOP = 10;
const GROUPS = ["model", "api", "both"];

export default {
  range: "24h",
  filters: true,
  load(params) {
    return api.get("usage/analysis", apiParams(params, this, {
      group: groupOf(params), sort: params.get("sort"), order: params.get("order"),
      page: params.get("page"), page_size: PAGE_SIZE }));
  },
  render(root, data, { params, go }) {
    const groups = segmented({ id: "group", label: t("group_by"),
      options: GROUPS.map((group) => ({ value: group, text: t(`group_${group}`) })),
      onChange: (group) => go({ group, page: null, sort: data.sort === "name" ? null : data.sort }, true) });
    groups.set(data.group);
    const nameColumns = nameColumnsOf(data.group, params);
    const sorting = { sort: data.sort, order: data.order, onSort: (sort) => go({ sort, page: null,
      order: sort === data.sort ? (data.order === "asc" ? "desc" : "asc") : (sort === "name" ? "asc" : "desc") }, true) };
    const footer = { ...data.totals, label: t("total") }; // over every row, not this page's
    const chart = h("div", { class: "chart", id: "top-chart" });
    const exported = analysisExport(apiParams(params, this, { group: data.group, sort: data.sort, order: data.order }));
    root.append(
      card(t("first_rows", { n: Math.min(TOP, data.items.length), metric: t(chartMetric(data.sort)) }),
        data.items.length ? chart : note(t("no_data")),
        { wide: true, actions: isMember() ? null : groups.element }),
      card(t("n_rows", { n: fmt.int(data.total), count: data.total }), [
        dataTable([...nameColumns, ...usageColumns()], data.items, { sorting, footer, id: "analysis", caption: t("page_analysis") }),
        pager(data.page, data.page_size, data.total, (page) => go({ page }, true))], { wide: true, actions: exported }),
    );
    if (data.items.length) {
      const top = data.items.slice(0, TOP);
      const metric = chartMetric(data.sort);
      categoryBars(chart, { labels: top.map((row) => rowName(row, data.group)), label: t(metric), ...metricSeries(metric, top) });
    }
  },
};

/** A member's usage is one key's: by model only. */
function groupOf(params) {
  return isMember() ? "model" : params.get("group") || "model";
}

function chartMetric(sort) {
  if (sort === "cost") return "cost";
  return ["tokens", "input", "output"].includes(sort) ? "tokens" : "requests";
}

function keyName(row) {
  return row.alias || row.api_key || t("no_key");
}

function rowName(row, group) {
  return group === "model" ? row.model : group === "api" ? keyName(row) : `${keyName(row)} · ${row.model}`;
}

/** The name columns of a grouping; each name links to its events. The totals row has a
 * label instead of names. */
function nameColumnsOf(group, params) {
  const eventsOf = (changes) => hrefFor("events", withChanges(params, changes));
  const key = { label: t("api_key"), sort: "name", value: (row) => (row.label ? h("strong", {}, row.label)
    : h("a", { href: eventsOf({ api_key: [row.api_key_id] }) }, keyName(row),
      row.alias ? h("span", { class: "muted" }, ` ${row.api_key}`) : null)) };
  const model = { label: t("model"), sort: "name", value: (row) => (row.label ? (group === "model" ? h("strong", {}, row.label) : "")
    : h("a", { href: eventsOf({ model: [row.model] }) }, row.model)) };
  if (group === "model") return [model];
  if (group === "api") return [key];
  return [key, { ...model, sort: null }];
}
