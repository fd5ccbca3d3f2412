// Grids of small cells (the 15-minute health grid, the year heatmap, a day's 5-minute
// cells): hover or arrow keys show a cell's details, click or Enter picks it.

import { h, hideTip, showTip } from "./dom.js";
import * as fmt from "./format.js";
import { t } from "./i18n.js";

/** The colour class of a cell by its success rate; busier healthy cells are darker. */
export function healthClass(requests, failed, busiest) {
  if (!requests) return "c-empty";
  const rate = (requests - failed) / requests;
  if (rate < 0.9) return "c-bad";
  if (rate < 0.99) return "c-warn";
  return `c-ok${Math.min(4, Math.ceil((4 * requests) / Math.max(busiest, 1)))}`;
}

/** The text of a cell's tooltip: when, requests, failures and success rate. */
export function cellTip(when, requests, failed) {
  return h("div", {}, h("strong", {}, when),
    h("div", {}, t("n_requests", { n: fmt.int(requests), count: requests })),
    requests ? h("div", { class: failed ? "bad" : "" }, t("n_failed", { n: fmt.int(failed) }), " · ",
      t("success_rate_is", { rate: fmt.percent((requests - failed) / requests) })) : null);
}

/**
 * cells: [{row, col, cls, tip: () => Node}] placed on a grid of ``rows`` (labels) by
 * ``columns``; colLabels: [{col, text, span}] above; onPick(cell) on click or Enter;
 * focusOn(cell): the cell that focus starts on (else the last). ``fixed``: square cells
 * of at least --cell that grow to fill the width (scrolled sideways where it is too narrow).
 */
export function cellGrid({ label, rows, columns, cells, colLabels = [], onPick, fixed = false, focusOn }) {
  const grid = h("div", {
    class: `cellgrid${fixed ? " fixed" : ""}${onPick ? " pickable" : ""}`, tabindex: "0", role: "group",
    "aria-label": `${label}. ${t("grid_keys")}`,
  });
  grid.style.gridTemplateColumns = `max-content repeat(${columns}, ${fixed ? "minmax(var(--cell), var(--cell-max, 1fr))" : "minmax(2px, 1fr)"})`;
  for (const { col, text, span } of colLabels) {
    const element = h("span", { class: "col-label" }, text);
    element.style.gridArea = `1 / ${col + 2} / 2 / span ${span}`;
    grid.append(element);
  }
  rows.forEach((text, row) => {
    const element = h("span", { class: "row-label" }, text);
    element.style.gridArea = `${row + 2} / 1`;
    grid.append(element);
  });
  const byPlace = new Map();
  // Made without h() and added in one call: a month's 2,976 cells took 20-35 ms through
  // h() one by one, 5-10 ms so.
  grid.append(...cells.map((cell, index) => {
    const element = document.createElement("span");
    element.className = `cell ${cell.cls}`;
    element.dataset.index = index;
    element.style.gridArea = `${cell.row + 2} / ${cell.col + 2}`;
    cell.element = element;
    byPlace.set(`${cell.row}:${cell.col}`, cell);
    return element;
  }));

  let active = null;
  const activate = (cell) => {
    active?.element.classList.remove("active");
    active = cell;
    if (!cell) return hideTip();
    cell.element.classList.add("active");
    showTip(cell.element, cell.tip());
  };
  const cellOf = (target) => (target.dataset?.index ? cells[Number(target.dataset.index)] : null);
  grid.addEventListener("mouseover", (event) => {
    const cell = cellOf(event.target);
    if (cell) activate(cell);
  });
  grid.addEventListener("mouseleave", () => activate(null));
  grid.addEventListener("blur", () => activate(null));
  grid.addEventListener("focus", () => activate((focusOn && cells.find(focusOn)) || cells[cells.length - 1] || null));
  grid.addEventListener("click", (event) => {
    const cell = cellOf(event.target);
    if (cell && onPick) onPick(cell);
  });
  const moves = { ArrowLeft: [0, -1], ArrowRight: [0, 1], ArrowUp: [-1, 0], ArrowDown: [1, 0] };
  grid.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && active && onPick) {
      event.preventDefault();
      onPick(active);
      return;
    }
    if (event.key === "Escape") return activate(null);
    const move = moves[event.key];
    if (!move || !active) return;
    event.preventDefault();
    const next = byPlace.get(`${active.row + move[0]}:${active.col + move[1]}`);
    if (next) activate(next);
  });
  return grid;
}

export function legend() {
  return h("div", { class: "legend" },
    [["c-ok2", t("legend_ok")], ["c-warn", t("legend_warn")], ["c-bad", t("legend_bad")], ["c-empty", t("legend_empty")]]
      .map(([cls, text]) => h("span", {}, h("i", { class: `cell ${cls}`, "aria-hidden": "true" }), text)));
}
