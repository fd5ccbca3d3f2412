// The filter controls: range picker with custom range, multi-selects, a segmented toggle.
// Each returns {element, set(...)}: the URL is the state, controls only show it. And a
// table's column chooser, whose choice a page keeps.

import { act } from "./api.js";
import { h, note } from "./dom.js";
import * as fmt from "./format.js";
import { t } from "./i18n.js";

const RANGES = ["today", "4h", "8h", "12h", "24h", "2d", "3d", "4d", "5d", "6d", "7d", "30d", "all", "custom"];

function rangeLabel(range) {
  const match = /^(\d+)([hd])$/.exec(range);
  if (!match) return t(`range_${range}`);
  return t(match[2] === "h" ? "last_hours" : "last_days", { n: match[1] });
}

/** onChange({range, start, end}); start and end are RFC 3339 strings for range=custom. */
export function rangePicker(onChange) {
  const select = h("select", { id: "range", "aria-label": t("time_range") },
    RANGES.map((range) => h("option", { value: range }, rangeLabel(range))));
  const start = h("input", { type: "datetime-local", id: "range-start", "aria-label": t("custom_start") });
  const end = h("input", { type: "datetime-local", id: "range-end", "aria-label": t("custom_end") });
  const error = h("span", { class: "bad", role: "alert" });
  const apply = h("button", { type: "button", id: "range-apply" }, t("apply"));
  const custom = h("div", { class: "custom-range", hidden: true }, start, h("span", { "aria-hidden": "true" }, "–"), end,
    apply, h("span", { class: "muted zone" }), error);
  const iso = (input) => new Date(fmt.instantOfLocal(input.value)).toISOString();

  select.addEventListener("change", () => {
    if (select.value !== "custom") return onChange({ range: select.value, start: null, end: null });
    const now = Date.now();
    start.value ||= fmt.localInputValue(now - 86_400_000);
    end.value ||= fmt.localInputValue(now);
    custom.hidden = false;
    start.focus();
  });
  apply.addEventListener("click", () => {
    if (!start.value || !end.value || fmt.instantOfLocal(end.value) <= fmt.instantOfLocal(start.value)) {
      error.textContent = t("custom_invalid");
      return;
    }
    error.textContent = "";
    onChange({ range: "custom", start: iso(start), end: iso(end) });
  });
  return {
    element: h("div", { class: "range" }, select, custom),
    set(range, startText, endText) {
      select.value = range;
      custom.hidden = range !== "custom";
      custom.querySelector(".zone").textContent = fmt.zoneName();
      if (range === "custom" && startText && endText) {
        start.value = fmt.localInputValue(Date.parse(startText));
        end.value = fmt.localInputValue(Date.parse(endText));
      }
    },
  };
}

/**
 * A button that opens a searchable list of checkboxes. load() -> [{value, label, count}],
 * called whenever it opens; onChange(values).
 */
export function multiSelect({ id, label, load, onChange }) {
  let selected = [];
  let options = null;
  let problem = null;
  const button = h("button", { type: "button", class: "ms-button", id, "aria-haspopup": "true", "aria-expanded": "false" });
  const search = h("input", { type: "search", class: "ms-search", placeholder: t("search"), "aria-label": t("search") });
  const list = h("div", { class: "ms-list", role: "group", "aria-label": label });
  const clear = h("button", { type: "button", class: "link" }, t("clear_selection"));
  const panel = h("div", { class: "ms-panel", hidden: true, tabindex: "-1" }, search, list, clear);
  const root = h("div", { class: "ms" }, button, panel);

  const paintButton = () => button.replaceChildren(h("span", {}, label),
    h("span", { class: `ms-count${selected.length ? " on" : ""}` }, selected.length ? fmt.int(selected.length) : t("all")));
  const toggle = (value, on) => onChange(on ? [...selected, value] : selected.filter((v) => v !== value));
  const paintList = () => {
    const known = options || [];
    const unknown = selected.filter((v) => !known.some((o) => o.value === v)).map((value) => ({ value, label: value }));
    const wanted = search.value.trim().toLowerCase();
    const shown = [...known, ...unknown].filter((o) => !wanted || o.label.toLowerCase().includes(wanted));
    list.replaceChildren(...shown.map((option) => h("label", { class: "ms-option" },
      h("input", { type: "checkbox", value: option.value, checked: selected.includes(option.value),
        onchange: (event) => toggle(option.value, event.target.checked) }),
      h("span", { class: "ms-label" }, option.label),
      option.count != null && h("span", { class: "muted" }, fmt.compact(option.count)))));
    if (!shown.length) list.append(note(problem || (options ? t("no_matches") : t("loading"))));
  };
  const close = (focusButton) => {
    if (panel.hidden) return;
    panel.hidden = true;
    button.setAttribute("aria-expanded", "false");
    if (focusButton) button.focus();
  };
  const open = async () => {
    panel.hidden = false;
    button.setAttribute("aria-expanded", "true");
    paintList();
    search.focus();
    await act(async () => {
      const fresh = await load(); // every time: new models and keys appear
      if (JSON.stringify(fresh) === JSON.stringify(options) && !problem) return;
      options = fresh;
      problem = null;
      paintList();
    }, (error) => {
      problem = error.message;
      paintList();
    });
  };

  button.addEventListener("click", () => (panel.hidden ? open() : close(false)));
  search.addEventListener("input", paintList);
  clear.addEventListener("click", () => onChange([]));
  root.addEventListener("keydown", (event) => {
    if (event.key === "Escape") close(true);
    if (event.key === "ArrowDown" && event.target === search) list.querySelector("input")?.focus();
  });
  root.addEventListener("focusout", (event) => {
    if (!root.contains(event.relatedTarget)) close(false);
  });
  paintButton();
  return {
    element: root,
    set(values) {
      selected = values;
      paintButton();
      const boxes = [...list.querySelectorAll("input")];
      if (selected.some((value) => !boxes.some((box) => box.value === value))) paintList();
      else for (const box of boxes) box.checked = selected.includes(box.value); // keeps the focus where it is
    },
  };
}

/** A row of toggle buttons, one pressed. options: [{value, text}]; onChange(value). */
export function segmented({ id, label, options, onChange }) {
  const buttons = options.map(({ value, text }) => h("button", {
    type: "button", dataset: { value }, "aria-pressed": "false", onclick: () => onChange(value) }, text));
  return {
    element: h("div", { class: "segmented", id, role: "group", "aria-label": label }, buttons),
    set(value) {
      for (const button of buttons) button.setAttribute("aria-pressed", String(button.dataset.value === value));
    },
  };
}

/**
 * "Columns": a button that opens checkboxes for a table's columns ([{id, label}], in table
 * order); onChange(ids) with the ids chosen, [] for the default ones (``defaults``, which
 * "Reset" brings back; so does unticking the last one).
 */
export function columnChooser({ id, columns, chosen, defaults, onChange }) {
  const count = h("span", { class: "ms-count" });
  const button = h("button", { type: "button", class: "ms-button small", id, "aria-haspopup": "true", "aria-expanded": "false" },
    h("span", {}, t("columns")), count);
  const inputs = columns.map((column) => h("input", { type: "checkbox", value: column.id, checked: chosen.includes(column.id),
    onchange: () => choose(inputs.filter((input) => input.checked).map((input) => input.value)) }));
  const choose = (ids) => {
    const shown = ids.length ? ids : defaults;
    for (const input of inputs) input.checked = shown.includes(input.value);
    count.textContent = t("n_of_m", { n: shown.length, m: columns.length });
    onChange(ids);
  };
  const reset = h("button", { type: "button", class: "link", onclick: () => choose([]) }, t("reset_columns"));
  const panel = h("div", { class: "ms-panel end", hidden: true },
    h("div", { class: "ms-list", role: "group", "aria-label": t("columns") },
      columns.map((column, index) => h("label", { class: "ms-option" }, inputs[index], h("span", { class: "ms-label" }, column.label)))),
    reset);
  count.textContent = t("n_of_m", { n: chosen.length, m: columns.length });
  const root = h("div", { class: "ms" }, button, panel);
  const close = (focusButton) => {
    panel.hidden = true;
    button.setAttribute("aria-expanded", "false");
    if (focusButton) button.focus();
  };
  button.addEventListener("click", () => {
    if (!panel.hidden) return close(false);
    panel.hidden = false;
    button.setAttribute("aria-expanded", "true");
    inputs[0]?.focus();
  });
  root.addEventListener("keydown", (event) => event.key === "Escape" && close(true));
  root.addEventListener("focusout", (event) => !root.contains(event.relatedTarget) && close(false));
  return root;
}
