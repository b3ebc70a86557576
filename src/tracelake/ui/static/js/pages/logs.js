// The Logs page: query bar, time range, volume histogram, facets, results, live tail.
// Everything a search shows is in the URL:
// `#/logs?q=...&from=...&to=...&limit=...&cols=...&sort=...&refresh=...`.

import * as api from "../api.js";
import { dismissOnOutside, formatCount, formatTime, h, replace } from "../dom.js";
import { distribution, distributionQuery } from "../field-stats.js";
import { histogram } from "../histogram.js";
import {
  columnValue, DEFAULT_SORT, FIXED_COLUMNS, nextSort, parseColumns, parseSort, sortable, sortedQuery,
} from "../log-columns.js";
import {
  addTerm, fieldTerm, flattenAttributes, isFieldName, recentQueries, rememberQuery, splitPipes,
} from "../query.js";
import { autoRefresh, refreshMs } from "../refresh.js";
import { hrefFor, navigate } from "../router.js";
import { binColumn, statsSeries } from "../stats-chart.js";
import { cellText, genericTable } from "../table.js";
import { chooseBin, DEFAULT_FROM, resolveRange, timeRangePicker } from "../timerange.js";
import { timeSeriesChart } from "../timeseries.js";
import { zoneLabel, zoneTitle } from "../timezone.js";

const LOG_COLUMNS = ["timestamp", "service", "level", "message", "trace_id", "span_id", "host", "logger", "attributes"];
const FACET_FIELDS = ["level", "service", "host", "logger"];
const ATTRIBUTE_FACETS = 4;
const FACET_VALUES = 6;
const LIMITS = [100, 200, 500, 1000];
const DEFAULT_LIMIT = 200;
const TAIL_CAP = 500;
const CONTEXT_LINES = 10;
const LEVEL_CLASS = {
  TRACE: "lvl-trace", DEBUG: "lvl-debug", INFO: "lvl-info", WARN: "lvl-warn", ERROR: "lvl-error", FATAL: "lvl-fatal",
};

const EXAMPLES = [
  ["timeout", "message contains the word, any case"],
  ['"disk full"', "message contains the phrase"],
  ["service:checkout level:>=warn", "warnings and worse from one service"],
  ["http.status:>=500 http.path:/api/*", "attribute comparison and wildcard"],
  ['"connection reset" -host:web-3', "a phrase, excluding one host"],
  ["level:(error OR warn) time*", "several values; wildcard word"],
  ["trace_id:*", "records that have a trace id"],
  ["level:error | stats count() by service", "errors per service (a table)"],
  ["| stats count(), p95(latency_ms) by service", "latency per service"],
];

/**
 * Mount the Logs page.
 * @param {HTMLElement} root
 * @param {import("../router.js").Route} route
 * @returns {{update: (route: import("../router.js").Route) => void, unmount: () => void}}
 */
export function mount(root, route) {
  let state = stateFrom(route);
  let controller = null;
  let tailSource = null;
  let tailSearch = null;
  /** the chart of a `| stats … by bin()` result, while one is shown */
  let statsChart = null;
  /** @type {{tbody: HTMLElement, entries: Array<{row: HTMLElement, detail: HTMLElement|null}>, empty: HTMLElement|null}|null} */
  let table = null;

  // ---- query bar --------------------------------------------------------------
  const input = h("input", {
    type: "search", class: "query-input", placeholder: 'Search logs: level:error service:checkout "timed out"  ( / to focus )',
    value: state.q, spellcheck: false, autocomplete: "off",
    attrs: { "aria-label": "Query" }, dataset: { testid: "query" },
  });
  const recent = h("div", { class: "popover recent-popover", hidden: true, attrs: { role: "listbox", "aria-label": "Recent queries" } });
  const helpButton = h("button", { type: "button", class: "btn icon-btn", text: "?", title: "Query syntax", attrs: { "aria-expanded": "false" }, dataset: { testid: "syntax-help" } });
  const help = syntaxHelp((example) => {
    closeHelp();
    input.value = example;
    submit();
  });
  let undismissHelp = null;
  const closeHelp = () => {
    help.hidden = true;
    helpButton.setAttribute("aria-expanded", "false");
    if (undismissHelp) undismissHelp();
    undismissHelp = null;
  };
  helpButton.addEventListener("click", () => {
    if (!help.hidden) return closeHelp();
    help.hidden = false;
    helpButton.setAttribute("aria-expanded", "true");
    undismissHelp = dismissOnOutside(helpButton, help, closeHelp);
  });

  const picker = timeRangePicker({
    from: state.from, to: state.to,
    onChange: (range) => go({ from: range.from, to: range.to }),
  });
  const limitSelect = h("select", { class: "select", title: "Rows to show", attrs: { "aria-label": "Rows" }, onchange: () => go({ limit: Number(limitSelect.value) }) },
    LIMITS.map((n) => h("option", { value: String(n), text: `${n} rows`, selected: n === state.limit })));
  const liveButton = h("button", {
    type: "button", class: "btn live-btn", title: "Live tail: new matching lines appear at the top",
    attrs: { "aria-pressed": "false" }, dataset: { testid: "live", state: "off" },
  }, h("span", { class: "live-dot", attrs: { "aria-hidden": "true" } }), "Live");
  liveButton.addEventListener("click", () => (tailSource ? stopTail() : startTail()));
  // a refresh waits while Live streams or a record is open (re-rendering would close it)
  const refresh = autoRefresh({
    value: state.refresh,
    onChange: (value) => go({ refresh: value }),
    tick: () => { if (!tailSource && !reading()) run(); },
  });

  const form = h("form", { class: "toolbar", role: "search", onsubmit: (e) => { e.preventDefault(); submit(); } },
    h("div", { class: "query-wrap" }, input, recent),
    h("div", { class: "help-wrap" }, helpButton, help),
    picker.el,
    limitSelect,
    h("button", { type: "submit", class: "btn primary", text: "Search", dataset: { testid: "search" } }),
    liveButton,
    refresh.el,
  );
  const errorBox = h("div", { class: "query-error", hidden: true, attrs: { role: "alert" }, dataset: { testid: "query-error" } });

  // ---- histogram, facets, results --------------------------------------------------
  const histEl = h("section", { class: "panel histogram", attrs: { "aria-label": "Log volume by level" }, dataset: { testid: "histogram" } });
  const hist = histogram(histEl, {
    onSelect: (fromMs, toMs) => go({ from: new Date(fromMs).toISOString(), to: new Date(toMs).toISOString() }),
  });
  const facetsEl = h("aside", { class: "panel facets", attrs: { "aria-label": "Fields" }, dataset: { testid: "facets" } });
  const summary = h("div", { class: "results-summary", dataset: { testid: "summary" } });
  const resultsEl = h("div", { class: "results-body" });
  const results = h("section", { class: "panel results", attrs: { "aria-label": "Results" } },
    h("div", { class: "results-head" }, summary), resultsEl);

  replace(root,
    h("div", { class: "logs-page" }, form, errorBox, histEl, h("div", { class: "logs-body" }, facetsEl, results)));

  // ---- recent queries ---------------------------------------------------------------
  const showRecent = () => {
    const text = input.value.trim().toLowerCase();
    const items = recentQueries().filter((q) => !text || (q.toLowerCase().includes(text) && q.toLowerCase() !== text));
    if (!items.length) {
      recent.hidden = true;
      return;
    }
    replace(recent, h("div", { class: "popover-title", text: "Recent queries" }),
      items.map((q) => h("button", {
        type: "button", class: "recent-item", text: q, attrs: { role: "option" },
        onmousedown: (e) => e.preventDefault(),
        onclick: () => { input.value = q; recent.hidden = true; submit(); },
      })));
    recent.hidden = false;
  };
  input.addEventListener("focus", showRecent);
  input.addEventListener("input", showRecent);
  input.addEventListener("blur", () => { recent.hidden = true; });
  input.addEventListener("keydown", (e) => {
    if (e.key === "Escape") recent.hidden = true;
    if (e.key === "ArrowDown" && !recent.hidden) {
      e.preventDefault();
      recent.querySelector("button")?.focus();
    }
  });
  recent.addEventListener("keydown", (e) => {
    const items = [...recent.querySelectorAll("button")];
    const i = items.indexOf(document.activeElement);
    if (e.key === "ArrowDown" && i < items.length - 1) { e.preventDefault(); items[i + 1].focus(); }
    if (e.key === "ArrowUp") { e.preventDefault(); (i > 0 ? items[i - 1] : input).focus(); }
    if (e.key === "Escape") { recent.hidden = true; input.focus(); }
  });
  recent.addEventListener("focusout", (e) => {
    if (!recent.contains(e.relatedTarget) && e.relatedTarget !== input) recent.hidden = true;
  });
  const onSlash = (e) => {
    const typing = /^(INPUT|TEXTAREA|SELECT)$/.test(document.activeElement?.tagName || "");
    if (e.key === "/" && !typing && !e.ctrlKey && !e.metaKey) {
      e.preventDefault();
      input.focus();
      input.select();
    }
  };
  document.addEventListener("keydown", onSlash);

  // ---- navigation -------------------------------------------------------------------
  function go(changes) {
    const next = { ...state, ...changes };
    navigate("logs", {
      q: next.q,
      from: next.from === DEFAULT_FROM ? "" : next.from,
      to: next.to,
      limit: next.limit === DEFAULT_LIMIT ? "" : String(next.limit),
      cols: next.cols.join(","),
      sort: next.sort,
      refresh: next.refresh,
    });
  }
  function toggleColumn(field) {
    const cols = state.cols.includes(field) ? state.cols.filter((c) => c !== field) : [...state.cols, field];
    go({ cols });
  }
  function sortBy(field) {
    go({ sort: nextSort(state.sort, field) });
  }
  const columnActions = { addFilter, toggleColumn, columns: () => state.cols };
  function submit() {
    recent.hidden = true;
    rememberQuery(input.value);
    go({ q: input.value.trim() });
  }
  function addFilter(term) {
    go({ q: addTerm(state.q, term) });
  }

  // ---- running a search ---------------------------------------------------------
  function run() {
    if (controller) controller.abort();
    controller = new AbortController();
    const { signal } = controller;
    const { search } = splitPipes(state.q);
    const range = { from: state.from, to: state.to };
    const { fromMs, toMs } = resolveRange(state.from, state.to);
    const bin = chooseBin(toMs - fromMs);
    errorBox.hidden = true;
    results.classList.add("loading");
    summary.textContent = "Searching…";

    const rows = api.search({ q: sortedQuery(state.q, state.sort), ...range, limit: state.limit }, signal);
    rows.then((result) => {
      results.classList.remove("loading");
      renderResults(result);
    }).catch((error) => {
      if (error.name === "AbortError") return;
      results.classList.remove("loading");
      showQueryError(error);
    });

    api.search({ q: `${search} | stats count() by bin(${bin.label}), level`, ...range }, signal)
      .then((result) => hist.update(result, fromMs, toMs, bin.ms, bin.label))
      .catch((error) => {
        if (error.name === "AbortError") return;
        hist.showError(error.status === 400 ? "No histogram: the query has an error." : `Histogram unavailable: ${error.message}`);
      });

    const sections = new Map();
    replace(facetsEl, h("div", { class: "facets-title", text: "Fields" }));
    const facet = (field, kind) => {
      const shown = state.cols.includes(field);
      const section = h("section", { class: "facet loading", dataset: { field } },
        h("h3", {}, h("span", { text: field }),
          h("span", { class: "facet-tools" },
            kind === "attr" ? h("span", { class: "facet-kind", text: "attribute" }) : null,
            FIXED_COLUMNS.includes(field) ? null : h("button", {
              type: "button", class: `mini facet-col${shown ? " on" : ""}`, text: shown ? "− col" : "+ col",
              title: shown ? `Remove the ${field} column` : `Show ${field} as a column`,
              attrs: { "aria-pressed": String(shown) }, dataset: { testid: "facet-column" },
              onclick: () => toggleColumn(field),
            }))),
        h("div", { class: "facet-dist-slot" }),
        h("div", { class: "facet-values", text: "…" }));
      facetsEl.append(section);
      sections.set(field, section);
      if (kind === "attr") {
        api.search({ q: distributionQuery(search, field), ...range }, signal)
          .then((result) => {
            const el = distribution(result, field);
            if (el) {
              section.classList.add("numeric");
              replace(section.querySelector(".facet-dist-slot"), el);
            }
          })
          .catch(() => {}); // a field that is not a number has no distribution; its top values still show
      }
      api.search({ q: `${search} | stats count() by ${field} | limit ${FACET_VALUES}`, ...range }, signal)
        .then((result) => renderFacet(section, field, result))
        .catch((error) => {
          if (error.name === "AbortError") return;
          section.classList.remove("loading");
          replace(section.querySelector(".facet-values"), h("span", { class: "muted", text: error.status === 400 ? "—" : "unavailable" }));
        });
    };
    for (const field of FACET_FIELDS) facet(field, "column");
    rows.then((result) => {
      if (signal.aborted) return;
      for (const key of attributeKeys(result.rows)) if (!sections.has(key)) facet(key, "attr");
    }).catch(() => {});
  }

  function reading() {
    return Boolean(table && table.entries.some((e) => e.detail && !e.detail.hidden));
  }

  function showQueryError(error) {
    replace(summary, h("span", { class: "muted", text: "No results" }));
    replace(resultsEl);
    table = null;
    const parts = [h("strong", { text: error.status === 400 ? "Query error: " : "Search failed: " }), h("span", { text: error.message })];
    if (error.column) {
      parts.push(h("pre", { class: "caret" }, h("span", { text: state.q }), "\n", `${" ".repeat(Math.max(0, error.column - 1))}^`));
    }
    replace(errorBox, ...parts);
    errorBox.hidden = false;
  }

  function renderFacet(section, field, result) {
    section.classList.remove("loading");
    const valueCol = result.columns[0];
    const countCol = result.columns[result.columns.length - 1];
    const values = result.rows.map((r) => ({ value: r[valueCol], n: Number(r[countCol]) || 0 }));
    const max = Math.max(1, ...values.map((v) => v.n));
    const list = h("ul", {});
    for (const { value, n } of values) {
      const shown = value === null || value === undefined ? "(none)" : typeof value === "object" ? JSON.stringify(value) : String(value);
      const bar = h("span", { class: "facet-bar", attrs: { "aria-hidden": "true" } });
      bar.style.width = `${Math.round((n / max) * 100)}%`;
      const include = fieldTerm(field, value);
      const exclude = fieldTerm(field, value, true);
      const levelClass = field === "level" ? LEVEL_CLASS[String(value).toUpperCase()] || "" : "";
      list.append(h("li", {},
        h("button", { type: "button", class: "facet-value", title: `Filter: ${include}`, dataset: { term: include }, onclick: () => addFilter(include) },
          bar, h("span", { class: `facet-label ${levelClass}`, text: shown }), h("span", { class: "facet-count", text: formatCount(n) })),
        h("button", { type: "button", class: "facet-exclude", title: `Exclude: ${exclude}`, text: "−", attrs: { "aria-label": `Exclude ${shown}` }, onclick: () => addFilter(exclude) }),
      ));
    }
    replace(section.querySelector(".facet-values"), values.length ? list : h("span", { class: "muted", text: "no values" }));
  }

  function renderResults(result) {
    const isLogs = result.kind === "rows" && LOG_COLUMNS.every((c) => result.columns.includes(c));
    const noun = result.kind === "stats" ? "row" : "log";
    const count = `${formatCount(result.rows.length)} ${noun}${result.rows.length === 1 ? "" : "s"}`;
    replace(summary,
      h("b", { text: count }),
      h("span", { class: "muted", text: ` · ${result.took_ms} ms` }),
      result.truncated ? h("span", { class: "truncated", text: " · more match: narrow the query or raise the row limit" }) : null,
      tailSource ? h("span", { class: "live-note", text: " · live: new lines appear at the top" }) : null,
    );
    if (statsChart) statsChart.destroy();
    statsChart = null;
    if (isLogs) {
      table = logTable();
      replace(resultsEl, table.el);
      for (const row of result.rows) appendEntry(row, false);
      if (!result.rows.length) showEmpty();
    } else {
      table = null;
      replace(resultsEl, result.kind === "stats" && binColumn(result.columns) ? chartOf(result) : null,
        genericTable(result.columns, result.rows));
    }
  }

  /** The chart above the table of a `| stats … by bin()` result. */
  function chartOf(result) {
    const { series, dropped } = statsSeries(result);
    const box = h("div", { class: "stats-chart" });
    statsChart = timeSeriesChart(box, { height: 200, testid: "stats-chart" });
    const { fromMs, toMs } = resolveRange(state.from, state.to);
    statsChart.update(series, { fromS: fromMs / 1000, toS: toMs / 1000 });
    return h("div", { class: "stats-chart-wrap" }, box,
      dropped ? h("div", { class: "muted stats-dropped", text: `${dropped} more series not drawn (the table has them all)` }) : null);
  }

  function logTable() {
    const tbody = h("tbody", {});
    const cols = state.cols;
    const canSort = sortable(state.q);
    const sort = parseSort(state.sort || DEFAULT_SORT);
    const head = (label, field, { removable = false, marker = null } = {}) => {
      const sorted = sort && sort.field === field ? (sort.descending ? "descending" : "ascending") : null;
      const title = canSort ? `Sort by ${field}` : "Sorting by a column needs a query without stats or limit";
      return h("th", { scope: "col", class: removable ? "c-extra" : "", attrs: { "aria-sort": sorted }, dataset: { field } },
        h("button", { type: "button", class: "th-sort", title, disabled: !canSort, dataset: { testid: "sort" }, onclick: () => sortBy(field) },
          h("span", { class: "th-label", text: label }), marker,
          sorted ? h("span", { class: "sort-mark", text: sorted === "descending" ? " ▼" : " ▲", attrs: { "aria-hidden": "true" } }) : null),
        removable ? h("button", { type: "button", class: "th-remove", text: "×", title: `Remove the ${field} column`,
          attrs: { "aria-label": `Remove column ${field}` }, dataset: { testid: "remove-column" }, onclick: () => toggleColumn(field) }) : null);
    };
    const el = h("table", { class: "log-table", dataset: { testid: "results" } },
      h("colgroup", {}, ["c-time", "c-level", "c-service", "c-host", ...cols.map(() => "c-extra"), "c-message", "c-trace"].map((c) => h("col", { class: c }))),
      h("thead", {}, h("tr", {},
        head("Time", "timestamp", { marker: h("span", { class: "tz-mark", text: zoneLabel(), title: zoneTitle(), dataset: { testid: "time-zone" } }) }),
        head("Level", "level"), head("Service", "service"), head("Host", "host"),
        cols.map((c) => head(c, c, { removable: true })),
        h("th", { scope: "col", text: "Message" }), h("th", { scope: "col", text: "Trace" }))),
      tbody);
    return { el, tbody, entries: [], empty: null, width: 6 + cols.length };
  }

  function showEmpty() {
    table.empty = h("tr", { class: "empty" }, h("td", { colSpan: table.width, text: "No logs match this query in this time range." }));
    table.tbody.append(table.empty);
  }

  function appendEntry(row, atTop) {
    const entry = { row: null, detail: null };
    entry.row = logRow(row, state.cols, () => toggle(entry, row));
    if (table.empty) {
      table.empty.remove();
      table.empty = null;
    }
    if (atTop) {
      table.tbody.prepend(entry.row);
      table.entries.unshift(entry);
      entry.row.classList.add("fresh");
    } else {
      table.tbody.append(entry.row);
      table.entries.push(entry);
    }
  }

  function toggle(entry, row) {
    const open = entry.row.getAttribute("aria-expanded") === "true";
    entry.row.setAttribute("aria-expanded", String(!open));
    if (!entry.detail) {
      entry.detail = h("tr", { class: "detail" }, h("td", { colSpan: table.width }, recordDetail(row, columnActions)));
      entry.row.after(entry.detail);
    }
    entry.detail.hidden = open;
  }

  // ---- live tail ------------------------------------------------------------------------
  function startTail() {
    const { search } = splitPipes(state.q);
    tailSearch = search;
    if (!table) {
      table = logTable();
      replace(resultsEl, table.el);
    }
    tailSource = api.tail(search);
    liveButton.setAttribute("aria-pressed", "true");
    liveButton.dataset.state = "connecting";
    tailSource.onopen = () => { liveButton.dataset.state = "open"; };
    tailSource.onerror = () => {
      if (tailSource) liveButton.dataset.state = tailSource.readyState === EventSource.CLOSED ? "closed" : "connecting";
    };
    tailSource.onmessage = (event) => {
      let row;
      try {
        row = JSON.parse(event.data);
      } catch {
        return;
      }
      if (!table) return;
      appendEntry(row, true);
      while (table.entries.length > TAIL_CAP) {
        const old = table.entries.pop();
        old.row.remove();
        if (old.detail) old.detail.remove();
      }
    };
  }

  function stopTail() {
    if (tailSource) tailSource.close();
    tailSource = null;
    tailSearch = null;
    liveButton.setAttribute("aria-pressed", "false");
    liveButton.dataset.state = "off";
  }

  run();
  return {
    update(nextRoute) {
      state = stateFrom(nextRoute);
      if (input.value.trim() !== state.q) input.value = state.q;
      picker.set(state.from, state.to);
      limitSelect.value = String(state.limit);
      refresh.set(state.refresh);
      if (tailSource && splitPipes(state.q).search !== tailSearch) {
        stopTail();
        startTail();
      }
      run();
    },
    unmount() {
      if (controller) controller.abort();
      refresh.stop();
      if (statsChart) statsChart.destroy();
      stopTail();
      closeHelp();
      hist.destroy();
      document.removeEventListener("keydown", onSlash);
    },
  };
}

function stateFrom(route) {
  const p = route.params;
  const limit = Number(p.get("limit"));
  return {
    q: (p.get("q") || "").trim(),
    from: p.get("from") || DEFAULT_FROM,
    to: p.get("to") || "",
    limit: LIMITS.includes(limit) ? limit : DEFAULT_LIMIT,
    cols: parseColumns(p.get("cols")),
    sort: parseSort(p.get("sort")) ? (p.get("sort") || "").trim() : "",
    refresh: refreshMs(p.get("refresh")) ? p.get("refresh") : "",
  };
}

/** The most common scalar attribute keys of some rows (for facets). */
function attributeKeys(rows) {
  const counts = new Map();
  for (const row of rows) {
    for (const [key, value] of flattenAttributes(row.attributes)) {
      if (Array.isArray(value) || !isFieldName(key) || LOG_COLUMNS.includes(key)) continue;
      counts.set(key, (counts.get(key) || 0) + 1);
    }
  }
  return [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, ATTRIBUTE_FACETS).map(([k]) => k);
}

function levelBadge(level) {
  const text = level ?? "";
  return h("span", { class: `level ${LEVEL_CLASS[String(text).toUpperCase()] || "lvl-other"}`, text });
}

/**
 * A link to the trace of an id (`#/traces/<id>`), or nothing for no id.
 * @param {string|null|undefined} traceId
 * @param {{short?: boolean}} [options]
 * @returns {HTMLElement|null}
 */
export function traceLink(traceId, { short = false } = {}) {
  if (!traceId) return null;
  return h("a", {
    class: "trace-link mono", href: hrefFor("traces", {}, [String(traceId)]),
    text: short ? String(traceId).slice(0, 8) : String(traceId), title: `Trace ${traceId}`,
    onclick: (e) => e.stopPropagation(),
  });
}

function logRow(row, cols, onToggle) {
  const message = cellText(row.message);
  const lines = message.split("\n");
  const tr = h("tr", {
    class: "row", tabIndex: 0,
    attrs: { "aria-expanded": "false" },
    onclick: (e) => {
      if (window.getSelection()?.toString()) return; // selecting text, not toggling
      if (e.target.closest("a")) return;
      onToggle();
    },
    onkeydown: (e) => {
      if (e.target.closest("a")) return; // Enter on the trace link follows it
      if (e.key === "Enter" || e.key === " ") {
        e.preventDefault();
        onToggle();
      }
    },
  },
  h("td", { class: "c-time mono", text: formatTime(row.timestamp), title: `${row.timestamp ?? ""} (${zoneLabel()} shown)` }),
  h("td", { class: "c-level" }, levelBadge(row.level)),
  h("td", { class: "c-service", text: cellText(row.service), title: cellText(row.service) }),
  h("td", { class: "c-host", text: cellText(row.host), title: cellText(row.host) }),
  cols.map((c) => {
    const text = cellText(columnValue(row, c));
    return h("td", { class: "c-extra mono", text, title: text, dataset: { field: c } });
  }),
  h("td", { class: "c-message mono" },
    h("span", { class: "msg", text: lines[0] }),
    lines.length > 1 ? h("span", { class: "more-lines", text: `+${lines.length - 1} lines` }) : null),
  h("td", { class: "c-trace" }, traceLink(row.trace_id, { short: true })));
  return tr;
}

/**
 * The expanded view of one record: every field, attributes flattened and the record as
 * pretty-printed JSON, filter buttons and the lines around it.
 * @param {object} row a search row
 * @param {{addFilter: (term: string) => void, toggleColumn: (field: string) => void, columns: () => string[]}} actions
 * @returns {HTMLElement}
 */
export function recordDetail(row, { addFilter, toggleColumn, columns }) {
  const kv = h("tbody", {});
  const addField = (name, value, { filterable = true, attribute = false } = {}) => {
    const isObject = value !== null && typeof value === "object";
    let shown;
    if (name === "trace_id" && value) shown = traceLink(value);
    else if (name === "level") shown = levelBadge(value);
    else if (isObject) shown = h("pre", { class: "json", text: JSON.stringify(value, null, 2) });
    else if (value === null || value === undefined) shown = h("span", { class: "null", text: "null" });
    else shown = h("span", { class: name === "message" ? "pre-wrap mono" : "mono", text: String(value) });
    const scalar = !isObject && filterable && isFieldName(name);
    const column = isFieldName(name) && !FIXED_COLUMNS.includes(name) && name !== "attributes";
    const shownAsColumn = columns().includes(name);
    kv.append(h("tr", { dataset: { field: name } },
      h("th", { scope: "row", class: attribute ? "attr" : "", text: name }),
      h("td", { class: "kv-actions" }, scalar ? [
        h("button", { type: "button", class: "mini", text: "+", title: `Filter: ${fieldTerm(name, value)}`, onclick: () => addFilter(fieldTerm(name, value)) }),
        h("button", { type: "button", class: "mini", text: "−", title: `Exclude: ${fieldTerm(name, value, true)}`, onclick: () => addFilter(fieldTerm(name, value, true)) }),
      ] : null, column ? h("button", {
        type: "button", class: `mini col-toggle${shownAsColumn ? " on" : ""}`, text: "▥",
        title: shownAsColumn ? `Remove the ${name} column` : `Show ${name} as a column`,
        attrs: { "aria-pressed": String(shownAsColumn), "aria-label": shownAsColumn ? `Remove column ${name}` : `Add column ${name}` },
        dataset: { testid: "toggle-column" }, onclick: () => toggleColumn(name),
      }) : null),
      h("td", { class: "kv-value" }, shown)));
  };
  addField("timestamp", row.timestamp, { filterable: false });
  for (const name of ["level", "service", "host", "logger", "message", "trace_id", "span_id"]) {
    if (name === "message" || (row[name] !== null && row[name] !== undefined)) {
      addField(name, row[name], { filterable: name !== "message" });
    }
  }
  for (const [name, value] of flattenAttributes(row.attributes)) addField(name, value, { attribute: true });
  for (const [name, value] of Object.entries(row)) {
    if (!LOG_COLUMNS.includes(name)) addField(name, value, { filterable: false });
  }

  const contextEl = h("div", { class: "context", hidden: true, dataset: { testid: "context" } });
  const raw = h("details", { class: "raw" }, h("summary", { text: "Record as JSON" }), h("pre", { class: "json", text: JSON.stringify(row, null, 2) }));
  const copy = h("button", { type: "button", class: "btn small", text: "Copy JSON" });
  copy.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(JSON.stringify(row, null, 2));
      copy.textContent = "Copied";
    } catch {
      copy.textContent = "Copy failed";
    }
    setTimeout(() => { copy.textContent = "Copy JSON"; }, 1500);
  });
  const contextButton = h("button", {
    type: "button", class: "btn small", text: `Context (±${CONTEXT_LINES} lines)`, dataset: { testid: "context-button" },
    title: "The lines before and after this one from the same service and host",
    onclick: () => {
      contextEl.hidden = false;
      loadContext(row, contextEl);
    },
  });
  const actions = h("div", { class: "detail-actions" },
    row.trace_id ? h("a", {
      class: "btn small primary", href: hrefFor("traces", { span: row.span_id || "" }, [String(row.trace_id)]),
      text: "View trace", title: row.span_id ? `Trace ${row.trace_id}, span ${row.span_id} selected` : `Trace ${row.trace_id}`,
      dataset: { testid: "record-trace" },
    }) : null,
    contextButton,
    row.trace_id ? h("a", { class: "btn small", href: hrefFor("logs", { q: fieldTerm("trace_id", row.trace_id), from: "-7d" }), text: "Logs of this trace" }) : null,
    copy);
  return h("div", { class: "record", dataset: { testid: "record" } }, actions, h("table", { class: "kv" }, kv), contextEl, raw);
}

/** Fill `el` with the lines around `row` from the same service and host. */
async function loadContext(row, el) {
  const scope = `${fieldTerm("service", row.service)} ${fieldTerm("host", row.host)}`;
  const ts = row.timestamp;
  replace(el, h("div", { class: "muted", text: "Loading context…" }));
  try {
    const [before, same, after] = await Promise.all([
      api.search({ q: `${scope} timestamp:<${ts}`, limit: CONTEXT_LINES }),
      api.search({ q: `${scope} timestamp:${ts}`, limit: 50 }),
      api.search({ q: `${scope} timestamp:>${ts} | sort +timestamp`, limit: CONTEXT_LINES }),
    ]);
    const lines = [...before.rows.reverse(), ...same.rows.reverse(), ...after.rows];
    const key = (r) => JSON.stringify([r.timestamp, r.message, r.span_id, r.logger]);
    const self = key(row);
    replace(el,
      h("div", { class: "context-title" },
        h("b", { text: "Context" }),
        h("span", { class: "muted", text: ` · ${row.service ?? "(no service)"} on ${row.host ?? "(no host)"} · ${before.rows.length} before, ${after.rows.length} after · times in ${zoneLabel()}` })),
      lines.map((r) => h("div", { class: `ctx-line${key(r) === self ? " current" : ""}` },
        h("span", { class: "mono ctx-time", text: formatTime(r.timestamp) }),
        levelBadge(r.level),
        h("span", { class: "mono ctx-msg", text: cellText(r.message) }))));
  } catch (error) {
    replace(el, h("div", { class: "error-text", text: `Context unavailable: ${error.message}` }));
  }
}

function syntaxHelp(onExample) {
  return h("div", { class: "popover help-popover", hidden: true, attrs: { role: "dialog", "aria-label": "Query syntax" }, dataset: { testid: "help" } },
    h("div", { class: "popover-title", text: "Search language" }),
    h("ul", { class: "help-rules" },
      h("li", {}, h("code", { text: "word" }), " and ", h("code", { text: '"a phrase"' }), " search the message, any case; ", h("code", { text: "*" }), " and ", h("code", { text: "?" }), " are wildcards"),
      h("li", {}, h("code", { text: "field:value" }), " — ", h("code", { text: "level service host logger trace_id" }), " or any attribute (", h("code", { text: "http.status" }), ")"),
      h("li", {}, h("code", { text: "field:>500" }), " compares (", h("code", { text: ">= < <=" }), "); ", h("code", { text: "field:*" }), " means present"),
      h("li", {}, h("code", { text: "AND OR NOT" }), " (upper case), ", h("code", { text: "-term" }), " excludes, ", h("code", { text: "( )" }), " groups"),
      h("li", {}, h("code", { text: "| stats count() by service, bin(5m)" }), ", ", h("code", { text: "| sort -field" }), ", ", h("code", { text: "| fields a, b" }), ", ", h("code", { text: "| limit N" }))),
    h("div", { class: "popover-title", text: "Examples (click to run)" }),
    h("div", { class: "help-examples" },
      EXAMPLES.map(([q, what]) => h("button", { type: "button", class: "example", onclick: () => onExample(q) },
        h("code", { text: q }), h("span", { class: "muted", text: what })))));
}
