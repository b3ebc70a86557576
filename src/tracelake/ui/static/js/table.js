// Result tables: columns and rows of any JSON values, shown as text.

import { h } from "./dom.js";

/**
 * The text of a value of any JSON type: objects as JSON, null as empty.
 * @param {any} value
 * @returns {string}
 */
export function cellText(value) {
  if (value === null || value === undefined) return "";
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

/**
 * A plain table of columns and rows (rows as objects or arrays), values as text.
 * @param {string[]} columns
 * @param {Array<object|any[]>} rows
 * @returns {HTMLElement}
 */
export function genericTable(columns, rows) {
  const numeric = columns.map((c, i) => rows.length > 0 && rows.every((r) => {
    const v = Array.isArray(r) ? r[i] : r[c];
    return v === null || typeof v === "number";
  }));
  return h("div", { class: "table-scroll" },
    h("table", { class: "data-table", dataset: { testid: "table" } },
      h("thead", {}, h("tr", {}, columns.map((c, i) => h("th", { scope: "col", class: numeric[i] ? "num" : "", text: c })))),
      h("tbody", {}, rows.length
        ? rows.map((r) => h("tr", {}, columns.map((c, i) => {
          const v = Array.isArray(r) ? r[i] : r[c];
          return v === null || v === undefined
            ? h("td", { class: "null", text: "null" })
            : h("td", { class: numeric[i] ? "num mono" : "mono", text: cellText(v) });
        })))
        : h("tr", { class: "empty" }, h("td", { colSpan: Math.max(1, columns.length), text: "No rows." })))));
}
