// Credentials: success and failure per credential (source, auth_index), joined with CPA's
// auth files (disabled, unavailable, status) and config keys.

import { api } from "../api.js";
import { categoryBars, metricSeries } from "../charts.js";
import { card, dataTable, h, note, pill } from "../dom.js";
import * as fmt from "../format.js";
import { t } from "../i18n.js";
import { apiParams, hrefFor, withChanges } from "../state.js";
import { sumTotals, usageColumns } from "../usage.js";

const SHOWN = ["requests", "success_rate", "failed", "tokens", "cost"];

export default {
  range: "24h",
  filters: true,
  owner: true,
  async load(params) {
    const [usage, files, metadata] = await Promise.all([
      api.get("usage/credentials", apiParams(params, this)),
      api.get("auth-files", apiParams(params, this)),
      api.get("provider-metadata")]);
    return { rows: joined(usage.items, files.items, configKeys(metadata.providers)), fetchedAt: files.fetched_at };
  },
  render(root, data, { params }) {
    const columns = [
      { label: t("credential"), wrap: true, value: (row) => credentialName(row, params) },
      { label: t("state"), wrap: true, value: state },
      ...usageColumns().filter((column) => SHOWN.includes(column.sort)),
      { label: t("last_success"), value: (row) => (row.last_success_at ? fmt.ago(row.last_success_at) : "—") },
      { label: t("last_failure"), value: lastFailure, cls: (row) => (row.last_failure_at ? "bad" : "") },
      { label: t("provider"), value: (row) => row.provider || row.file?.provider || row.config?.kind || "—" },
    ];
    const used = data.rows.filter((row) => row.requests);
    const chart = h("div", { class: "chart", id: "credentials-chart" });
    root.append(
      card(t("page_credentials"), [
        dataTable(columns, data.rows, { id: "credentials", caption: t("page_credentials"),
          rowClass: (row) => (row.file?.disabled || row.file?.unavailable ? "dim" : "") }),
        note(t("auth_files_fetched", { when: fmt.whenAndAgo(data.fetchedAt) })),
      ], { wide: true }),
      card(t("requests_by_credential"), used.length ? chart : note(t("no_data")), { wide: true }),
    );
    if (used.length) {
      const top = used.slice(0, 10);
      categoryBars(chart, { labels: top.map(label), ...metricSeries("requests", top) });
    }
  },
};

/** auth_index -> {kind, key, disabled} of the credentials in CPA's config (API keys). */
function configKeys(providers) {
  const keys = new Map();
  for (const [list, entries] of Object.entries(providers || {})) {
    for (const entry of entries || []) {
      if (list === "openai-compatibility") {
        for (const key of entry["api-key-entries"] || []) {
          keys.set(key["auth-index"], { kind: entry.name, key: key["api-key"], disabled: entry.disabled });
        }
      } else {
        keys.set(entry["auth-index"], { kind: list, key: entry["api-key"], disabled: entry.disabled });
      }
    }
  }
  return keys;
}

/** The usage rows with their auth file or config key, then the auth files unused in the range. */
function joined(items, files, keys) {
  const fileOf = new Map(files.map((file) => [file.auth_index, file]));
  const rows = items.map((item) => ({ ...item, file: fileOf.get(item.auth_index), config: keys.get(item.auth_index) }));
  const seen = new Set(items.map((item) => item.auth_index));
  for (const file of files) {
    if (!seen.has(file.auth_index)) rows.push({ ...sumTotals([]), auth_index: file.auth_index, file });
  }
  return rows;
}

function label(row) {
  return row.file?.label || row.file?.email || row.source || row.config?.key || row.auth_index;
}

function credentialName(row, params) {
  const name = label(row);
  const detail = row.file?.name || (row.config ? `${row.config.kind} · ${row.config.key}` : null);
  const title = row.source_id
    ? h("a", { class: "nowrap", href: hrefFor("events", withChanges(params, { source: [row.source_id] })) }, name)
    : h("span", { class: "nowrap" }, name);
  return h("div", { class: "stack" }, title, h("span", { class: "muted small" }, detail ? `${detail} · ${row.auth_index}` : row.auth_index));
}

function state(row) {
  const file = row.file;
  if (!file) return row.config ? pill(row.config.disabled ? t("disabled") : t("config_key"), row.config.disabled ? "bad" : "")
    : pill(t("not_listed"), "muted");
  const pills = [];
  if (file.disabled) pills.push(pill(t("disabled"), "bad"));
  if (file.unavailable) pills.push(pill(t("unavailable"), "warn"));
  if (!file.disabled && !file.unavailable) pills.push(pill(file.status || t("active"), file.status === "error" ? "bad" : "ok"));
  const message = [file.status_message, file.next_retry_after && t("retry_after", { when: fmt.dateTime(file.next_retry_after, false) })]
    .filter(Boolean).join(" · ");
  return h("div", { class: "stack" }, h("span", { class: "pills" }, pills), message ? h("span", { class: "muted small" }, message) : null);
}

function lastFailure(row) {
  if (!row.last_failure_at) return "—";
  return `${fmt.ago(row.last_failure_at)}${row.last_failure_status ? ` (${row.last_failure_status})` : ""}`;
}
