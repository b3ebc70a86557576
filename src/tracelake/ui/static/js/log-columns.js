// The Logs table's chosen columns and sort, as Kibana Discover keeps them: fields added
// beside the fixed columns (`cols=latency_ms,http.status` in the URL) and a sort that the
// server applies (`sort=-latency_ms` becomes `| sort -latency_ms` on the query), so a
// link reproduces the view and the sort covers every match, not only the rows shown.

import { flattenAttributes, isFieldName, splitPipes } from "./query.js";

/** Columns every log table shows; they are not added again. */
export const FIXED_COLUMNS = ["timestamp", "level", "service", "host", "message", "trace_id"];

/**
 * The added columns named by a `cols` URL value (comma-separated, each a field name).
 * @param {string|null|undefined} value
 * @returns {string[]}
 */
export function parseColumns(value) {
  const out = [];
  for (const part of (value || "").split(",")) {
    const name = part.trim();
    if (name && isFieldName(name) && !FIXED_COLUMNS.includes(name) && !out.includes(name)) out.push(name);
  }
  return out;
}

/**
 * A row's value of a column: a top-level field, else the attribute of that dotted name.
 * @param {Record<string, any>} row a search row
 * @param {string} name
 * @returns {any} undefined when the row has no such field
 */
export function columnValue(row, name) {
  if (Object.prototype.hasOwnProperty.call(row, name) && name !== "attributes") return row[name];
  for (const [key, value] of flattenAttributes(row.attributes, "", 8)) if (key === name) return value;
  return undefined;
}

/**
 * Read a `sort` URL value (`-field` descending, `+field` ascending).
 * @param {string|null|undefined} value
 * @returns {{field: string, descending: boolean}|null} null for none or an unreadable value
 */
export function parseSort(value) {
  const m = /^([+-]?)(.+)$/.exec((value || "").trim());
  if (!m || !isFieldName(m[2])) return null;
  return { field: m[2], descending: m[1] === "-" };
}

/** The order when the URL names none: newest first, as the server returns rows. */
export const DEFAULT_SORT = "-timestamp";

/**
 * The sort after clicking a column's header: the column descending, or, when it is
 * already the sort, the other direction. Returns "" for the default order.
 * @param {string} current a `sort` URL value ("" for the default)
 * @param {string} field
 * @returns {string}
 */
export function nextSort(current, field) {
  const now = parseSort(current || DEFAULT_SORT);
  const next = now && now.field === field ? `${now.descending ? "+" : "-"}${field}` : `-${field}`;
  return next === DEFAULT_SORT ? "" : next;
}

/**
 * Whether a query's rows can take a sort pipe: not after `stats` or `limit` (the
 * language refuses `sort` after `limit`, and stats rows are not log rows).
 * @param {string} query
 * @returns {boolean}
 */
export function sortable(query) {
  return !/\|\s*(stats|limit)\b/i.test(splitPipes(query).pipes);
}

/**
 * The query the rows are fetched with: the user's query and the chosen sort.
 * @param {string} query
 * @param {string} sort a `sort` URL value ("" for the default)
 * @returns {string}
 */
export function sortedQuery(query, sort) {
  const parsed = parseSort(sort);
  if (!parsed || !sortable(query)) return query;
  return `${query} | sort ${parsed.descending ? "-" : "+"}${parsed.field}`.trim();
}
