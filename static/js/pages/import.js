// Import and export: a file of usage records (CPA's legacy export, JSON Lines of queue
// payloads, a cpa-usage jsonl export) uploaded to /import, with its report; the events
// and the analysis of the filters as files.

import { act, api } from "../api.js";
import { card, facts, h, note, notify } from "../dom.js";
import { analysisExport, eventExports } from "../exports.js";
import * as fmt from "../format.js";
import { t } from "../i18n.js";
import { apiParams } from "../state.js";

const GROUPS = ["model", "api", "both"];

let lastImport = null; // {name, report} or {name, error}: shown until the next import

export default {
  range: "all",
  filters: true,
  owner: true,
  load(params) {
    return api.get("usage/events", apiParams(params, this, { page_size: 1 }));
  },
  render(root, data, { params, reload }) {
    root.append(
      card(t("import_title"), [note(t("import_help")), importForm(reload), lastImport && outcome(lastImport)],
        { wide: true, id: "import-card" }),
      card(t("export_title"), exports(apiParams(params, this), data.total), { wide: true, id: "export-card" }),
    );
  },
};

/** The file goes as the body, typed by its name: .json is a (legacy) JSON document. */
function importForm(reload) {
  const file = h("input", { type: "file", id: "import-file", accept: ".json,.jsonl,.ndjson,application/json,application/x-ndjson" });
  const submit = h("button", { type: "submit", class: "primary", id: "import-submit" }, t("import"));
  const status = h("p", { id: "import-status", class: "note", role: "status" });
  const form = h("form", { class: "import-form", id: "import-form" },
    h("label", { class: "field" }, h("span", {}, t("usage_file")), file), submit, status);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const chosen = file.files[0];
    if (!chosen) {
      status.className = "note bad";
      status.textContent = t("choose_file");
      return;
    }
    submit.disabled = true;
    status.className = "note muted";
    status.textContent = t("importing", { name: chosen.name });
    const type = /\.json$/i.test(chosen.name) ? "application/json" : "application/x-ndjson";
    await act(async () => {
      const report = await api.upload("import", chosen, type, new URLSearchParams({ name: chosen.name }));
      lastImport = { name: chosen.name, report };
      notify(t("import_added", { name: chosen.name, n: fmt.int(report.added), count: report.added }));
    }, (error) => {
      lastImport = { name: chosen.name, error };
    });
    reload();
  });
  return form;
}

function outcome({ name, report, error }) {
  if (error) return h("p", { class: "note bad", id: "import-error", role: "alert" }, `${name}: ${error.message}`);
  const reasons = Object.entries(report.reasons).sort((a, b) => b[1] - a[1]);
  return h("section", { class: "import-report", id: "import-report" },
    h("h3", {}, t("import_of", { name: report.file })),
    facts([[t("read"), fmt.int(report.read)], [t("added"), fmt.int(report.added), report.added ? "ok" : ""],
      [t("already_there"), fmt.int(report.duplicates)],
      [t("rejected"), fmt.int(report.rejected), report.rejected ? "bad" : ""]], "import-facts"),
    reasons.length ? h("ul", { class: "reasons", id: "import-reasons" },
      reasons.map(([reason, n]) => h("li", {}, h("strong", {}, `${fmt.int(n)} × `), reason))) : null,
    report.rejected ? note(t("rejected_kept")) : null);
}

function exports(query, total) {
  const group = h("select", { id: "export-group" },
    GROUPS.map((value) => h("option", { value }, t(`group_${value}`))));
  const analysisLink = () => analysisExport(new URLSearchParams([...query, ["group", group.value]]));
  const analysis = h("span", {}, analysisLink());
  group.addEventListener("change", () => analysis.replaceChildren(analysisLink()));
  return h("div", { class: "transfer" },
    h("div", {}, h("h3", {}, t("page_events")), note(t("export_events_help", { n: fmt.int(total), count: total })),
      eventExports(query)),
    h("div", {}, h("h3", {}, t("page_analysis")), note(t("export_analysis_help")),
      h("div", { class: "actions" }, h("label", { class: "inline-field" }, h("span", {}, t("group_by")), group), analysis)));
}
