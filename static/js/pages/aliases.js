// Aliases: readable names for client API keys; edit, delete, export to and import from a file.

import { act, api } from "../api.js";
import { card, confirmButton, dataTable, download, h, note, notify } from "../dom.js";
import * as fmt from "../format.js";
import { t } from "../i18n.js";

export default {
  range: null,
  filters: false,
  owner: true,
  load() {
    return api.get("aliases");
  },
  render(root, data, { reload }) {
    const columns = [
      { label: t("api_key"), wrap: true, value: (row) => h("code", {}, row.api_key) },
      { label: t("alias"), value: (row) => aliasEditor(row, reload) },
      { label: t("requests"), num: true, value: (row) => fmt.int(row.requests) },
      { label: t("first_seen"), value: (row) => fmt.dateTime(row.first_seen, false) },
      { label: t("last_seen"), value: (row) => fmt.dateTime(row.last_seen, false) },
    ];
    root.append(
      card(t("page_aliases"), [note(t("aliases_help")),
        data.items.length ? dataTable(columns, data.items, { id: "aliases", caption: t("page_aliases") })
          : note(t("no_keys"))], { wide: true }),
      card(t("export_import"), transfer(reload), { wide: true, id: "alias-transfer" }),
    );
  },
};

function aliasEditor(row, reload) {
  const input = h("input", { value: row.alias || "", maxlength: "100", "aria-label": t("alias_for", { key: row.api_key }),
    placeholder: t("no_alias") });
  const save = (event) => {
    event.preventDefault();
    act(async () => {
      await api.put("aliases", { api_key: row.api_key, alias: input.value });
      notify(t("alias_saved", { alias: input.value.trim() }));
      reload();
    }, (error) => {
      input.setAttribute("aria-invalid", "true");
      notify(error.message, "bad");
    });
  };
  const remove = () => act(async () => {
    await api.del("aliases", new URLSearchParams({ api_key: row.api_key }));
    notify(t("alias_deleted"));
    reload();
  }, (error) => notify(error.message, "bad"));
  return h("form", { class: "inline-form", onsubmit: save }, input,
    h("button", { type: "submit", class: "small" }, t("save")),
    row.alias ? confirmButton(t("delete"), t("confirm_delete"), remove, { class: "small danger" }) : null);
}

function transfer(reload) {
  const file = h("input", { type: "file", id: "alias-file", accept: "application/json,.json" });
  const mode = (value, checked) => h("label", { class: "radio" },
    h("input", { type: "radio", name: "alias-mode", value, checked }), t(`import_${value}`));
  const result = h("p", { id: "alias-result", class: "note", role: "status" });
  const exportButton = h("button", { type: "button", id: "alias-export", onclick: () => act(async () => {
    const exported = await api.get("aliases/export");
    download(`cpa-usage-aliases-${new Date().toISOString().slice(0, 10)}.json`, `${JSON.stringify(exported, null, 2)}\n`);
  }, (error) => notify(error.message, "bad")) }, t("export_file"));
  const form = h("form", { class: "import-form", id: "alias-import" },
    h("label", { class: "field" }, h("span", {}, t("import_file")), file),
    h("fieldset", {}, h("legend", {}, t("import_mode")), mode("merge", true), mode("replace", false)),
    h("button", { type: "submit", class: "primary" }, t("import")), result);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    result.className = "note";
    const chosen = file.files[0];
    if (!chosen) {
      result.textContent = t("choose_file");
      return;
    }
    let body;
    try {
      body = JSON.parse(await chosen.text());
    } catch (error) {
      result.className = "note bad";
      result.textContent = t("not_json", { error: error.message });
      return;
    }
    const params = new URLSearchParams({ mode: form.elements["alias-mode"].value });
    await act(async () => {
      const counts = await api.post("aliases/import", body, params);
      notify(t("import_done", { added: counts.added, updated: counts.updated, unchanged: counts.unchanged, removed: counts.removed }));
      reload();
    }, (error) => {
      result.className = "note bad";
      result.textContent = error.detail?.index != null ? `${error.message} (#${error.detail.index + 1})` : error.message;
    });
  });
  return h("div", { class: "transfer" }, h("div", {}, note(t("export_help")), exportButton), form);
}
