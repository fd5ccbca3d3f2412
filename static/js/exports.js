// Download links of the exports, for the filters of a query (the events and analysis
// pages, and the import and export page, share them).

import { apiUrl } from "./api.js";
import { fileLink, h } from "./dom.js";
import { t } from "./i18n.js";
import { isMember } from "./session.js";

function href(path, query, format) {
  const params = new URLSearchParams(query);
  params.set("format", format);
  return apiUrl(path, params);
}

/** The events of ``query`` as CSV and, for the owner, as lossless JSONL (keys in clear). */
export function eventExports(query) {
  return h("span", { class: "actions exports" },
    fileLink(href("usage/events/export", query, "csv"), t("export_csv"), { id: "events-csv" }),
    isMember() ? null : fileLink(href("usage/events/export", query, "jsonl"), t("export_jsonl"),
      { id: "events-jsonl", title: t("jsonl_help") }));
}

/** Every row of the analysis of ``query`` (with its group, sort and order) as CSV. */
export function analysisExport(query) {
  return fileLink(href("usage/analysis/export", query, "csv"), t("export_csv"), { id: "analysis-csv" });
}
