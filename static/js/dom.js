// Small DOM helpers. Elements are built, never parsed from HTML strings, and styles are set
// through CSSOM only: the page's Content-Security-Policy allows no inline style or script.

import { t } from "./i18n.js";

const PROPERTIES = new Set(["value", "checked", "disabled", "hidden", "selected", "indeterminate"]);

/** h("button", {class: "x", onclick: fn, "aria-label": "..."}, child, [children], "text") */
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value == null || value === false) continue;
    if (key === "class") element.className = value;
    else if (key === "dataset") Object.assign(element.dataset, value);
    else if (key.startsWith("on")) element.addEventListener(key.slice(2), value);
    else if (PROPERTIES.has(key)) element[key] = value;
    else element.setAttribute(key, value === true ? "" : value);
  }
  element.append(...children.flat(Infinity).filter((child) => child != null && child !== false));
  return element;
}

export function card(title, children, { wide = false, id, actions } = {}) {
  return h("section", { class: `card${wide ? " wide" : ""}`, id },
    title && h("div", { class: "card-head" }, h("h2", {}, title), actions), children);
}

export function pill(text, kind = "") {
  return h("span", { class: `pill ${kind}` }, text);
}

/** A definition list of [label, value, kind?]; a kind shows the value as a pill, or a
 * long one (an error's text) in the kind's colour: a pill does not wrap. */
export function facts(rows, id) {
  const shown = (value, kind) => (String(value).length > PILL_CHARS ? h("span", { class: kind }, value) : pill(value, kind));
  return h("dl", { class: "facts", id }, rows.map(([label, value, kind]) => [
    h("dt", {}, label), h("dd", {}, kind ? shown(value, kind) : value)]));
}

const PILL_CHARS = 32;

export function note(text, kind = "muted") {
  return h("p", { class: `note ${kind}` }, text);
}

/** An API error as the API words it, with what it expected when it says. */
export function errorNote(error) {
  const expected = error.detail?.expected;
  return h("p", { class: "note bad", role: "alert" }, expected ? `${error.message}: ${expected}` : error.message);
}

/** What an answer's ``expected`` says, readable: "a | b | c" is a list of choices. */
export function expectedText(expected) {
  return expected.includes(" | ") ? t("one_of", { choices: expected.split(" | ").join(", ") }) : expected;
}

/**
 * A page that could not be loaded, in words a person can act on: what went wrong (the
 * server's own words and details, a value of the link it cannot use, or that it did not
 * answer at all), with Retry, and, for a bad value in the link, a way to drop it.
 */
export function errorView(error, { retry, dropParameter }) {
  const detail = error.detail;
  const parameter = detail?.parameter;
  let title;
  if (error.status === undefined) title = t("did_not_answer", { error: error.message });
  else if (parameter) title = t("bad_link_value", { parameter, value: detail.value ?? "" });
  else title = t("server_said", { status: error.status, error: error.message });
  const lines = [];
  if (parameter && detail.expected) lines.push(t("expected_is", { expected: expectedText(detail.expected) }));
  else if (typeof detail === "string") lines.push(detail);
  else if (Array.isArray(detail?.problems)) lines.push(...detail.problems);
  else if (detail?.expected) lines.push(t("expected_is", { expected: expectedText(detail.expected) }));
  const actions = [h("button", { type: "button", id: "retry", onclick: retry }, t("retry"))];
  if (parameter && dropParameter) {
    actions.push(h("button", { type: "button", class: "link", id: "drop-parameter", onclick: () => dropParameter(parameter) },
      t("drop_parameter", { parameter })));
  }
  return h("section", { class: "card wide load-error", role: "alert", id: "load-error" },
    h("h2", {}, title), lines.map((line) => h("p", { class: "muted" }, line)), h("div", { class: "actions" }, actions));
}

/** Grey blocks in the shape of a page, while its first answer is on its way. */
export function skeleton() {
  const block = (cls) => h("div", { class: `skeleton-block ${cls}`, "aria-hidden": "true" });
  return h("div", { class: "skeleton", id: "skeleton", role: "status", "aria-busy": "true" },
    h("span", { class: "sr-only" }, t("loading")),
    h("div", { class: "stats" }, [1, 2, 3, 4].map(() => block("stat card"))), block("card wide tall"), block("card wide"));
}

/**
 * A table. columns: [{label, value(row) -> text|node, num, wrap, sort, cls(row)}]; ``sort`` names the
 * server sort key of a column; ``sorting`` = {sort, order, onSort}; ``footer``: a row object
 * rendered with the same columns (totals); ``onOpen(row)`` makes rows open with click or Enter.
 */
/**
 * A table of ``rows`` by ``columns`` [{label, value(row), num, wrap, sort, cls(row)}].
 * ``cards``: on a phone each row becomes a card of label: value lines (a wide table is
 * cut off there, and scrolling it sideways hides what a row is).
 */
export function dataTable(columns, rows, { sorting, footer, onOpen, rowClass, caption, id, cards = false } = {}) {
  const head = h("tr", {}, columns.map((column) => {
    const th = h("th", { class: column.num ? "num" : "", scope: "col" });
    if (sorting && column.sort) {
      const active = sorting.sort === column.sort;
      th.setAttribute("aria-sort", active ? (sorting.order === "asc" ? "ascending" : "descending") : "none");
      th.append(h("button", { type: "button", class: "sort", onclick: () => sorting.onSort(column.sort) },
        column.label, h("span", { class: "arrow", "aria-hidden": "true" }, active ? (sorting.order === "asc" ? "▲" : "▼") : "")));
    } else {
      th.append(column.label);
    }
    return th;
  }));
  const cells = (row) => columns.map((column) => h("td", {
    class: [column.num && "num", column.wrap && "wrap", column.cls?.(row)].filter(Boolean).join(" "),
    dataset: cards && typeof column.label === "string" ? { label: column.label } : {} }, column.value(row)));
  const body = rows.map((row) => {
    const tr = h("tr", { class: rowClass?.(row) || "" }, cells(row));
    if (onOpen) {
      tr.tabIndex = 0;
      tr.classList.add("openable");
      tr.addEventListener("click", () => onOpen(row));
      tr.addEventListener("keydown", (event) => {
        if (event.key === "Enter" || event.key === " ") {
          event.preventDefault();
          onOpen(row);
        }
      });
    }
    return tr;
  });
  return h("div", { class: "table-wrap" }, h("table", { id, class: cards ? "cards" : null },
    caption && h("caption", { class: "sr-only" }, caption),
    h("thead", {}, head), h("tbody", {}, body), footer && h("tfoot", {}, h("tr", {}, cells(footer)))));
}

/** "Page 2 of 7" with previous / next buttons; nothing when everything fits on one page. */
export function pager(page, pageSize, total, onPage) {
  const pages = Math.max(1, Math.ceil(total / pageSize));
  if (pages === 1) return null;
  return h("nav", { class: "pager", "aria-label": t("pagination") },
    h("button", { type: "button", disabled: page <= 1, onclick: () => onPage(page - 1) }, t("previous")),
    h("span", { class: "muted" }, t("page_of", { page, pages })),
    h("button", { type: "button", disabled: page >= pages, onclick: () => onPage(page + 1) }, t("next")));
}

// -- one tooltip for the whole page -------------------------------------------------------

const tip = () => document.getElementById("tip");

export function showTip(target, content) {
  const element = tip();
  element.replaceChildren(content);
  element.hidden = false;
  const box = target.getBoundingClientRect();
  const width = element.offsetWidth;
  const left = Math.min(Math.max(8, box.left + box.width / 2 - width / 2), window.innerWidth - width - 8);
  const above = box.top - element.offsetHeight - 8;
  element.style.left = `${left + window.scrollX}px`;
  element.style.top = `${(above > 0 ? above : box.bottom + 8) + window.scrollY}px`;
}

export function hideTip() {
  tip().hidden = true;
}

// -- one modal dialog -----------------------------------------------------------------------

export function openDialog(title, content) {
  const dialog = document.getElementById("dialog");
  dialog.querySelector("#dialog-title").textContent = title;
  dialog.querySelector("#dialog-body").replaceChildren(content);
  dialog.showModal();
}

export function dialogOpen() {
  return document.getElementById("dialog").open;
}

/** A short message at the bottom of the page ("saved"), read out by screen readers. */
export function notify(text, kind = "ok") {
  const element = document.getElementById("notice");
  element.textContent = text;
  element.className = `notice ${kind}`;
  element.hidden = false;
  clearTimeout(notify.timer);
  notify.timer = setTimeout(() => { element.hidden = true; }, 6000);
}

/** A button that asks once more before it acts (no blocking confirm()). */
export function confirmButton(text, confirmText, action, props = {}) {
  const button = h("button", { type: "button", ...props }, text);
  let armed = null;
  const disarm = () => {
    clearTimeout(armed);
    armed = null;
    button.textContent = text;
    button.classList.remove("armed");
  };
  button.addEventListener("click", () => {
    if (armed) {
      disarm();
      action();
      return;
    }
    button.textContent = confirmText;
    button.classList.add("armed");
    armed = setTimeout(disarm, 4000);
  });
  return button;
}

/** A link that downloads what the API answers (an export, its filters in ``href``). */
export function fileLink(href, text, props = {}) {
  return h("a", { class: "button small", href, download: "", ...props }, text);
}

/** Offer a text as a file download (an export). */
export function download(filename, text) {
  const url = URL.createObjectURL(new Blob([text], { type: "application/json" }));
  const link = h("a", { href: url, download: filename });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
