// The Lake page: read-only SQL over the lake's tables, their columns, CSV download.
// The statement is in the URL (`#/lake?sql=...`), so a query can be shared as a link.

import * as api from "../api.js";
import { formatCount, h, replace } from "../dom.js";
import { download, toCSV } from "../csv.js";
import { navigate } from "../router.js";
import { genericTable } from "../table.js";

const DEFAULT_SQL = "SELECT service, level, count(*) AS n\nFROM logs\nGROUP BY service, level\nORDER BY n DESC\nLIMIT 100";
const SCHEMA_SQL =
  "SELECT table_name, column_name, data_type FROM information_schema.columns " +
  "WHERE table_name NOT LIKE 'tl\\_mem\\_%' ESCAPE '\\' ORDER BY table_name, ordinal_position";
const EXAMPLES = [
  ["Latest logs", "SELECT timestamp, service, level, message\nFROM logs\nORDER BY timestamp DESC\nLIMIT 100"],
  ["Errors per service and hour", "SELECT service, date_trunc('hour', timestamp) AS hour, count(*) AS errors\nFROM logs\nWHERE level IN ('ERROR', 'FATAL')\nGROUP BY ALL\nORDER BY hour DESC, errors DESC"],
  ["Attribute keys", "SELECT key, count(*) AS n\nFROM (SELECT unnest(json_keys(attributes)) AS key FROM logs WHERE attributes IS NOT NULL)\nGROUP BY key\nORDER BY n DESC"],
  ["Slowest spans", "SELECT service, name, duration_us / 1000 AS ms, trace_id\nFROM spans\nORDER BY duration_us DESC\nLIMIT 50"],
];

/**
 * Mount the Lake page.
 * @param {HTMLElement} root
 * @param {import("../router.js").Route} route
 * @returns {{update: (route: import("../router.js").Route) => void, unmount: () => void}}
 */
export function mount(root, route) {
  let result = null;
  let controller = null;

  const editor = h("textarea", {
    class: "sql-input mono", spellcheck: false, rows: 7, value: route.params.get("sql") || DEFAULT_SQL,
    attrs: { "aria-label": "SQL" }, dataset: { testid: "sql" },
  });
  const runButton = h("button", { type: "submit", class: "btn primary", text: "Run", title: "Run (Ctrl+Enter)", dataset: { testid: "run" } });
  const csvButton = h("button", { type: "button", class: "btn", text: "Download CSV", disabled: true, dataset: { testid: "csv" } });
  const status = h("span", { class: "muted sql-status", dataset: { testid: "sql-status" } });
  const errorBox = h("div", { class: "sql-error", hidden: true, attrs: { role: "alert" }, dataset: { testid: "sql-error" } });
  const output = h("div", { class: "sql-output" });
  const schema = h("div", { class: "schema-list", dataset: { testid: "schema" } }, h("span", { class: "muted", text: "Loading tables…" }));
  const examples = h("select", { class: "select", attrs: { "aria-label": "Examples" } },
    h("option", { value: "", text: "Examples…" }),
    EXAMPLES.map(([label], i) => h("option", { value: String(i), text: label })));
  examples.addEventListener("change", () => {
    const example = EXAMPLES[Number(examples.value)];
    examples.value = "";
    if (example) {
      editor.value = example[1];
      submit();
    }
  });

  const form = h("form", { class: "sql-form", onsubmit: (e) => { e.preventDefault(); submit(); } },
    editor,
    h("div", { class: "sql-actions" }, runButton, csvButton, examples, status,
      h("span", { class: "muted hint", text: "One read-only SELECT (DuckDB SQL) · Ctrl+Enter runs" })));
  editor.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      submit();
    }
  });
  csvButton.addEventListener("click", () => {
    if (!result) return;
    const stamp = new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19);
    download(`tracelake-${stamp}.csv`, toCSV(result.columns, result.rows));
  });

  replace(root, h("div", { class: "lake-page" },
    h("aside", { class: "panel schema", attrs: { "aria-label": "Tables" } }, h("div", { class: "facets-title", text: "Tables" }), schema),
    h("section", { class: "lake-main" }, h("div", { class: "panel" }, form), errorBox, h("div", { class: "panel results" }, output))));

  function submit() {
    navigate("lake", { sql: editor.value.trim() }, { replace: true });
  }

  async function run(text) {
    if (controller) controller.abort();
    controller = new AbortController();
    errorBox.hidden = true;
    csvButton.disabled = true;
    result = null;
    status.textContent = "Running…";
    try {
      result = await api.sql(text, [], controller.signal);
      status.textContent = `${formatCount(result.rows.length)} rows · ${result.took_ms} ms${result.truncated ? " · truncated at the row cap" : ""}`;
      replace(output, genericTable(result.columns, result.rows));
      csvButton.disabled = false;
    } catch (error) {
      if (error.name === "AbortError") return;
      status.textContent = "";
      replace(errorBox, h("strong", { text: error.status === 400 ? "SQL rejected: " : "Query failed: " }), h("span", { class: "mono", text: error.message }));
      errorBox.hidden = false;
      replace(output);
    }
  }

  async function loadSchema() {
    try {
      const res = await api.sql(SCHEMA_SQL);
      const tables = new Map();
      for (const [table, column, type] of res.rows) {
        if (!tables.has(table)) tables.set(table, []);
        tables.get(table).push([column, type]);
      }
      replace(schema, [...tables.entries()].map(([table, columns]) => h("details", { class: "schema-table", open: table === "logs" },
        h("summary", {},
          h("button", {
            type: "button", class: "link-btn mono", text: table, title: `Query ${table}`,
            onclick: (e) => {
              e.preventDefault();
              editor.value = `SELECT *\nFROM ${table}\nORDER BY timestamp DESC\nLIMIT 100`;
              submit();
            },
          }),
          h("span", { class: "muted", text: ` ${columns.length}` })),
        h("ul", {}, columns.map(([column, type]) => h("li", {},
          h("button", { type: "button", class: "link-btn mono", text: column, title: "Insert into the query", onclick: () => insert(column) }),
          h("span", { class: "col-type", text: shortType(type), title: type })))))));
      if (!tables.size) replace(schema, h("span", { class: "muted", text: "No tables yet." }));
    } catch (error) {
      replace(schema, h("span", { class: "error-text", text: `Tables unavailable: ${error.message}` }));
    }
  }

  function insert(text) {
    const { selectionStart: a, selectionEnd: b, value } = editor;
    editor.value = value.slice(0, a) + text + value.slice(b);
    editor.focus();
    editor.selectionStart = editor.selectionEnd = a + text.length;
  }

  loadSchema();
  if (route.params.get("sql")) run(route.params.get("sql"));
  else replace(output, h("div", { class: "muted empty-note", text: "Run a query to see rows here." }));

  return {
    update(next) {
      const text = next.params.get("sql");
      if (!text) return;
      if (editor.value.trim() !== text) editor.value = text;
      run(text);
    },
    unmount() {
      if (controller) controller.abort();
    },
  };
}

/** A column type, abbreviated for the narrow table list. */
function shortType(type) {
  return type.toLowerCase().replace("timestamp with time zone", "timestamptz");
}
