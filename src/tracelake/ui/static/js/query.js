// Helpers over search-language text (docs/query-language.md): pipes, terms, recent queries.

/**
 * Split a query at its first `|` outside quotes into the search and the pipes.
 * @param {string} query
 * @returns {{search: string, pipes: string}} `pipes` starts with `|` or is empty
 */
export function splitPipes(query) {
  let quoted = false;
  for (let i = 0; i < query.length; i++) {
    const c = query[i];
    if (c === "\\") i++;
    else if (c === '"') quoted = !quoted;
    else if (c === "|" && !quoted) return { search: query.slice(0, i).trim(), pipes: query.slice(i).trim() };
  }
  return { search: query.trim(), pipes: "" };
}

const FIELD_RE = /^[A-Za-z_@][A-Za-z0-9_@-]*(\.[A-Za-z0-9_@-]+)*$/;
const BARE_RE = /^[A-Za-z0-9_@./][A-Za-z0-9_@./-]*$/;
const NUMBER_RE = /^-?\d+(\.\d+)?$/;

/**
 * Whether a name can be written as a field in a query.
 * @param {string} name
 * @returns {boolean}
 */
export function isFieldName(name) {
  return FIELD_RE.test(name) && !["AND", "OR", "NOT"].includes(name);
}

/**
 * A value as the query language needs it: numbers and plain words bare (numbers then
 * compare as numbers), anything else as a quoted phrase with `"` and `\` escaped.
 * @param {string|number|boolean} value
 * @returns {string}
 */
export function quoteValue(value) {
  const text = String(value);
  if (typeof value === "number" || NUMBER_RE.test(text)) return text;
  if (BARE_RE.test(text) && !["AND", "OR", "NOT"].includes(text)) return text;
  return `"${text.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/**
 * The term that matches records whose `field` is `value` (a missing value: `-field:*`);
 * `exclude` negates it.
 * @param {string} field
 * @param {string|number|boolean|null|undefined} value
 * @param {boolean} [exclude]
 * @returns {string}
 */
export function fieldTerm(field, value, exclude = false) {
  if (value === null || value === undefined) return exclude ? `${field}:*` : `-${field}:*`;
  return `${exclude ? "-" : ""}${field}:${quoteValue(value)}`;
}

/**
 * Add a term to the search part of a query (kept once), leaving its pipes as they are.
 * @param {string} query
 * @param {string} term
 * @returns {string}
 */
export function addTerm(query, term) {
  const { search, pipes } = splitPipes(query);
  const words = search === "*" ? "" : search;
  const present = ` ${words} `.includes(` ${term} `);
  const next = present ? words : [words, term].filter(Boolean).join(" ");
  return [next, pipes].filter(Boolean).join(" ");
}

const RECENT_KEY = "tracelake.recentQueries";
const RECENT_MAX = 12;

/**
 * Queries run recently in this browser, newest first.
 * @returns {string[]}
 */
export function recentQueries() {
  try {
    const list = JSON.parse(localStorage.getItem(RECENT_KEY) || "[]");
    return Array.isArray(list) ? list.filter((q) => typeof q === "string") : [];
  } catch {
    return [];
  }
}

/**
 * Remember a query at the top of the recent list (empty queries are not kept).
 * @param {string} query
 */
export function rememberQuery(query) {
  const text = query.trim();
  if (!text) return;
  const list = [text, ...recentQueries().filter((q) => q !== text)].slice(0, RECENT_MAX);
  try {
    localStorage.setItem(RECENT_KEY, JSON.stringify(list));
  } catch {
    // storage full or disabled: recent queries are a convenience
  }
}

/**
 * Flatten nested attributes into dotted keys with scalar (or JSON text) values.
 * @param {any} attributes
 * @param {string} [prefix]
 * @param {number} [depth] nesting levels to open
 * @returns {Array<[string, any]>}
 */
export function flattenAttributes(attributes, prefix = "", depth = 3) {
  if (attributes === null || typeof attributes !== "object" || Array.isArray(attributes)) return [];
  const out = [];
  for (const [key, value] of Object.entries(attributes)) {
    const name = prefix ? `${prefix}.${key}` : key;
    if (value !== null && typeof value === "object" && !Array.isArray(value) && depth > 1) {
      out.push(...flattenAttributes(value, name, depth - 1));
    } else {
      out.push([name, value]);
    }
  }
  return out;
}
