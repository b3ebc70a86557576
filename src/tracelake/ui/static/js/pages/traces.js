// The Traces page: find traces (`#/traces?service=&operation=&tags=&min=&max=&from=&to=&limit=`)
// and open one as a waterfall of its spans with its logs beside it (`#/traces/<trace_id>`).

import { getJSON } from "../api.js";
import { formatCount, formatTime, h, replace } from "../dom.js";
import { fieldTerm } from "../query.js";
import { hrefFor, navigate } from "../router.js";
import { durationScatter } from "../scatter.js";
import { resolveRange, timeRangePicker } from "../timerange.js";
import { zoneLabel, zoneTitle } from "../timezone.js";
import { failure, serviceCounts } from "../trace-facts.js";
import {
  calledServices, formatDuration, isError, parseDuration, serviceColor, spanService, spanTree, summarize, zipkin,
} from "../tracing.js";

const LIMITS = [20, 50, 100, 200];
const DEFAULT_LIMIT = 50;
const FILTERS = ["service", "operation", "tags", "min", "max", "from", "to", "limit"];
const LEVEL_CLASS = {
  TRACE: "lvl-trace", DEBUG: "lvl-debug", INFO: "lvl-info", WARN: "lvl-warn", ERROR: "lvl-error", FATAL: "lvl-fatal",
};

/**
 * Mount the Traces page (`#/traces` or `#/traces/<trace_id>`).
 * @param {HTMLElement} root
 * @param {import("../router.js").Route} route
 * @returns {{update: (route: import("../router.js").Route) => void, unmount: () => void}}
 */
export function mount(root, route) {
  let controller = null;
  /** the search the list was last shown for, so "back to results" keeps it */
  let lastSearch = {};
  const render = (r) => {
    if (controller) controller.abort();
    controller = new AbortController();
    const traceId = r.rest[0] || "";
    if (traceId) showTrace(root, traceId, lastSearch, r.params.get("span") || "", controller.signal);
    else {
      lastSearch = Object.fromEntries(FILTERS.map((k) => [k, r.params.get(k) || ""]));
      showSearch(root, lastSearch, controller.signal);
    }
  };
  render(route);
  return {
    update: render,
    unmount: () => controller && controller.abort(),
  };
}

// ---- the search ---------------------------------------------------------------------

/**
 * @param {HTMLElement} root
 * @param {Record<string, string>} state
 * @param {AbortSignal} signal
 */
function showSearch(root, state, signal) {
  const limit = LIMITS.includes(Number(state.limit)) ? Number(state.limit) : DEFAULT_LIMIT;
  let range = { from: state.from, to: state.to };
  const go = (changes) => {
    const next = { ...readForm(), ...range, ...changes };
    navigate("traces", next);
  };

  const serviceSelect = h("select", { class: "select", attrs: { "aria-label": "Service" }, dataset: { testid: "service" } },
    h("option", { value: "", text: "All services" }));
  const operationSelect = h("select", { class: "select", attrs: { "aria-label": "Operation" }, dataset: { testid: "operation" } },
    h("option", { value: "", text: "All operations" }));
  const setOptions = (select, values, current, allLabel) => {
    const list = [...new Set([...(current ? [current] : []), ...values])].sort();
    replace(select, h("option", { value: "", text: allLabel }), list.map((v) => h("option", { value: v, text: v, selected: v === current })));
    select.value = current || "";
  };
  setOptions(serviceSelect, [], state.service, "All services");
  setOptions(operationSelect, [], state.operation, "All operations");
  const tagsInput = h("input", {
    type: "search", class: "query-input tags-input", value: state.tags, spellcheck: false, autocomplete: "off",
    placeholder: "Tags: http.status_code=500 and error", attrs: { "aria-label": "Tags" }, dataset: { testid: "tags" },
  });
  const minInput = h("input", {
    type: "text", class: "dur-input", value: state.min, placeholder: "min 100ms", title: "Minimum duration (150ms, 1.5s, 200us; a number is ms)",
    attrs: { "aria-label": "Minimum duration" }, dataset: { testid: "min-duration" },
  });
  const maxInput = h("input", {
    type: "text", class: "dur-input", value: state.max, placeholder: "max", title: "Maximum duration",
    attrs: { "aria-label": "Maximum duration" }, dataset: { testid: "max-duration" },
  });
  const limitSelect = h("select", { class: "select", title: "Traces to show", attrs: { "aria-label": "Limit" } },
    LIMITS.map((n) => h("option", { value: String(n), text: `${n} traces`, selected: n === limit })));
  const picker = timeRangePicker({ from: state.from, to: state.to, onChange: (next) => { range = next; go(next); } });
  const readForm = () => ({
    service: serviceSelect.value, operation: operationSelect.value, tags: tagsInput.value.trim(),
    min: minInput.value.trim(), max: maxInput.value.trim(), limit: limitSelect.value === String(DEFAULT_LIMIT) ? "" : limitSelect.value,
  });
  serviceSelect.addEventListener("change", () => go({ operation: "" }));
  operationSelect.addEventListener("change", () => go({}));
  limitSelect.addEventListener("change", () => go({}));

  const errorBox = h("div", { class: "query-error", hidden: true, attrs: { role: "alert" }, dataset: { testid: "trace-error" } });
  const form = h("form", { class: "toolbar traces-toolbar", role: "search", onsubmit: (e) => { e.preventDefault(); go({}); } },
    serviceSelect, operationSelect, h("div", { class: "query-wrap" }, tagsInput), minInput, maxInput, picker.el, limitSelect,
    h("button", { type: "submit", class: "btn primary", text: "Find traces", dataset: { testid: "find" } }));
  const summaryEl = h("div", { class: "results-summary", dataset: { testid: "summary" }, text: "Searching…" });
  const listEl = h("div", { class: "trace-list", dataset: { testid: "trace-list" } });
  const scatterEl = h("div", { class: "scatter-wrap" });
  replace(root, h("div", { class: "traces-page" }, form, errorBox,
    h("section", { class: "panel results loading", attrs: { "aria-label": "Traces" } },
      h("div", { class: "results-head" }, summaryEl), scatterEl, listEl)));
  const results = root.querySelector("section.results");

  const { fromMs, toMs } = resolveRange(state.from, state.to);
  const win = { endTs: Math.round(toMs), lookback: Math.max(1, Math.round(toMs - fromMs)) };
  const fail = (error) => {
    if (error.name === "AbortError") return;
    errorBox.textContent = error.message;
    errorBox.hidden = false;
  };

  zipkin("services", { ...win, keepCase: true }, signal).then((names) => setOptions(serviceSelect, names, state.service, "All services")).catch(fail);
  if (state.service) {
    zipkin("spans", { serviceName: state.service, ...win, keepCase: true }, signal)
      .then((names) => setOptions(operationSelect, names, state.operation, "All operations")).catch(fail);
  } else operationSelect.disabled = !state.operation;

  const minUs = parseDuration(state.min);
  const maxUs = parseDuration(state.max);
  const bad = [[state.min, minUs, "minimum"], [state.max, maxUs, "maximum"]].find(([text, us]) => text && us === null);
  if (bad) {
    errorBox.textContent = `The ${bad[2]} duration "${bad[0]}" is not a duration: write e.g. 150ms, 1.5s or 200us.`;
    errorBox.hidden = false;
    summaryEl.textContent = "";
    results.classList.remove("loading");
    return;
  }
  const params = {
    serviceName: state.service, spanName: state.operation, annotationQuery: state.tags,
    minDuration: minUs ?? (maxUs !== null ? 1 : null), maxDuration: maxUs, limit, ...win, keepCase: true,
  };
  const started = performance.now();
  zipkin("traces", params, signal).then((traces) => {
    results.classList.remove("loading");
    const rows = traces.map((spans) => ({ ...summarize(spans), perService: serviceCounts(spans), failure: failure(spans) }))
      .sort((a, b) => b.start - a.start);
    const took = Math.round(performance.now() - started);
    summaryEl.textContent = `${formatCount(rows.length)} trace${rows.length === 1 ? "" : "s"}${rows.length >= limit ? ` (the newest ${limit}; narrow the search for others)` : ""} · ${took} ms`;
    replace(scatterEl, durationScatter(rows.map((r) => ({
      traceId: r.traceId, startMs: r.start / 1000, durationUs: r.duration, spans: r.spans, error: r.errors > 0,
      label: r.root ? `${r.missingRoot ? "missing root span · " : ""}${spanService(r.root)} ${r.root.name || ""}` : r.traceId,
    })), { width: scatterEl.clientWidth || listEl.clientWidth || 1000, onOpen: (id) => { location.hash = hrefFor("traces", {}, [id]); } }));
    replace(listEl, traceTable(rows));
  }).catch((error) => {
    results.classList.remove("loading");
    summaryEl.textContent = "";
    fail(error);
  });
}

/**
 * @param {Array<ReturnType<typeof summarize> & {perService: ReturnType<typeof serviceCounts>, failure: ReturnType<typeof failure>}>} rows
 * @returns {HTMLElement}
 */
function traceTable(rows) {
  const longest = Math.max(1, ...rows.map((r) => r.duration));
  return h("table", { class: "log-table trace-table" },
    h("colgroup", {}, ["c-start", "c-root", "c-spans", "c-duration"].map((c) => h("col", { class: c }))),
    h("thead", {}, h("tr", {},
      h("th", { scope: "col" }, "Start ", h("span", { class: "tz-mark", text: zoneLabel(), title: zoneTitle(), dataset: { testid: "time-zone" } })),
      h("th", { scope: "col", text: "Root service · operation" }),
      h("th", { scope: "col", class: "num", text: "Spans" }), h("th", { scope: "col", text: "Duration" }))),
    h("tbody", {}, rows.length ? rows.map((r) => {
      const bar = h("span", { class: `dur-bar${r.errors ? " error" : ""}`, attrs: { "aria-hidden": "true" } });
      bar.style.width = `${Math.max(0.5, (r.duration / longest) * 100)}%`;
      const service = r.root ? spanService(r.root) : "";
      const dot = h("span", { class: "svc-dot", attrs: { "aria-hidden": "true" } });
      dot.style.background = serviceColor(service);
      const href = hrefFor("traces", {}, [r.traceId]);
      return h("tr", { class: `row trace-row${r.errors ? " has-error" : ""}${r.missingRoot ? " missing-root" : ""}`, dataset: { traceId: r.traceId }, onclick: (e) => {
        if (!(e.target instanceof HTMLAnchorElement)) location.hash = href;
      } },
        h("td", { class: "c-time", text: formatTime(r.start / 1000) }),
        h("td", { class: "c-root" },
          r.missingRoot ? missingRootMark(r.root) : null,
          h("a", { href, class: "trace-link", dataset: { testid: "trace-link" }, title: r.missingRoot ? "The earliest span that arrived: the root has not" : null },
            dot, h("span", { class: "root-service", text: service }), " ", h("span", { class: "root-op", text: (r.root && r.root.name) || "(no name)" })),
          r.errors ? h("span", { class: "error-mark", text: `${r.errors} error${r.errors === 1 ? "" : "s"}`, dataset: { testid: "error-mark" } }) : null,
          h("span", { class: "trace-services muted", text: r.services.length > 1 ? ` ${r.services.length} services` : "" }),
          h("div", { class: "svc-counts", dataset: { testid: "service-counts" } }, r.perService.map((c) => {
            const chipDot = h("span", { class: "svc-dot", attrs: { "aria-hidden": "true" } });
            chipDot.style.background = serviceColor(c.service);
            return h("span", { class: `svc-count${c.errors ? " error" : ""}`, dataset: { service: c.service }, title: `${c.service}: ${c.spans} span${c.spans === 1 ? "" : "s"}${c.errors ? `, ${c.errors} failed` : ""}` },
              chipDot, h("span", { class: "svc-count-name", text: c.service }), h("b", { text: ` ${c.spans}` }));
          })),
          r.failure ? h("div", { class: "trace-error-msg", dataset: { testid: "error-message" }, title: `The span where the error began: ${r.failure.service} ${r.failure.span.name || ""}` },
            h("span", { class: "trace-error-svc", text: `${r.failure.service}: ` }), h("span", { class: "mono", text: r.failure.message })) : null),
        h("td", { class: "num c-spans", text: formatCount(r.spans) }),
        h("td", { class: "c-duration" }, h("div", { class: "dur-cell" },
          h("div", { class: "dur-track" }, bar), h("span", { class: "dur-text", text: formatDuration(r.duration) }))));
    }) : h("tr", { class: "empty" }, h("td", { colSpan: 4, text: "No traces match in this time range." }))));
}

/**
 * The mark of a trace whose root span has not arrived (Jaeger's "missing root span").
 * @param {any} earliest the span shown in the root's place
 * @returns {HTMLElement}
 */
function missingRootMark(earliest) {
  return h("span", {
    class: "missing-root-mark", text: "missing root span",
    title: `The root span has not arrived (the trace may still be in flight, or its root was lost); shown: the earliest span, whose parent ${earliest?.parentId ?? ""} is missing`,
    dataset: { testid: "missing-root" },
  });
}

// ---- one trace ----------------------------------------------------------------------

/**
 * @param {HTMLElement} root
 * @param {string} traceId
 * @param {Record<string, string>} lastSearch
 * @param {string} spanId a span to select once the waterfall is drawn ("" for none)
 * @param {AbortSignal} signal
 */
function showTrace(root, traceId, lastSearch, spanId, signal) {
  const logsHref = hrefFor("logs", { q: fieldTerm("trace_id", traceId), from: "-7d" });
  const head = h("div", { class: "trace-head" },
    h("a", { class: "btn small", href: hrefFor("traces", lastSearch), text: "← Traces" }),
    h("h1", { class: "trace-title" }, "Trace ", h("code", { class: "mono", text: traceId, dataset: { testid: "trace-id" } })),
    h("span", { class: "trace-facts muted", dataset: { testid: "trace-facts" } }),
    h("a", { class: "btn small trace-logs-link", text: "Logs of this trace", href: logsHref, dataset: { testid: "trace-logs" } }));
  const waterfallEl = h("section", { class: "panel waterfall-panel", attrs: { "aria-label": "Spans" }, dataset: { testid: "waterfall" } },
    h("div", { class: "note muted", text: "Loading spans…" }));
  const logsEl = h("aside", { class: "panel trace-logs", attrs: { "aria-label": "Logs of this trace" }, dataset: { testid: "trace-log-panel" } },
    h("div", { class: "results-head" }, h("b", { text: "Logs" }), h("span", { class: "muted logs-count" }),
      h("a", { class: "logs-open", href: logsHref, text: "Open in Logs →" })),
    h("div", { class: "trace-log-lines", dataset: { testid: "trace-log-lines" } }, h("div", { class: "note muted", text: "Loading logs…" })));
  replace(root, h("div", { class: "trace-page" }, head, h("div", { class: "trace-body" }, waterfallEl, logsEl)));

  let selectSpan = () => {};
  const facts = head.querySelector(".trace-facts");

  zipkin(`trace/${encodeURIComponent(traceId)}`, { keepCase: true }, signal).then((spans) => {
    const s = summarize(spans);
    if (s.missingRoot) head.insertBefore(missingRootMark(s.root), facts);
    facts.textContent = `${s.root ? `${s.missingRoot ? "earliest span " : ""}${spanService(s.root)}: ${s.root.name || ""} · ` : ""}${formatDuration(s.duration)} · ${formatCount(s.spans)} spans · ${s.services.length} service${s.services.length === 1 ? "" : "s"}${s.errors ? ` · ${s.errors} error${s.errors === 1 ? "" : "s"}` : ""} · ${formatTime(s.start / 1000)}`;
    const view = waterfall(spans, s);
    selectSpan = view.select;
    replace(waterfallEl, view.el);
    if (spanId) selectSpan(spanId);
  }).catch((error) => {
    if (error.name === "AbortError") return;
    const message = error.status === 404
      ? "No spans of this trace are in the lake: it may not have been sent, it may be older than the retention, or only its logs carry this id."
      : error.status === 400 ? `Not a trace id: ${error.message}` : error.message;
    replace(waterfallEl, h("div", { class: "trace-missing", attrs: { role: "alert" }, dataset: { testid: "trace-not-found" } },
      h("h2", { text: error.status === 404 ? "Trace not found" : "Cannot show this trace" }),
      h("p", { text: message })));
  });

  getJSON(`/api/v1/traces/${encodeURIComponent(traceId)}/logs`, { limit: 1000 }, signal).then((answer) => {
    const rows = answer.rows || [];
    logsEl.querySelector(".logs-count").textContent = `${formatCount(rows.length)}${answer.truncated ? "+" : ""} line${rows.length === 1 ? "" : "s"}`;
    replace(logsEl.querySelector(".trace-log-lines"), rows.length
      ? rows.map((row) => logLine(row, () => selectSpan(row.span_id)))
      : h("div", { class: "note muted", text: "No log lines carry this trace id." }));
  }).catch((error) => {
    if (error.name === "AbortError") return;
    replace(logsEl.querySelector(".trace-log-lines"),
      h("div", { class: "note error-text", text: error.status === 400 ? "Not a trace id." : error.message }));
  });
}

/**
 * One log line of the trace.
 * @param {Record<string, any>} row
 * @param {() => void} onSpan
 * @returns {HTMLElement}
 */
function logLine(row, onSpan) {
  const level = String(row.level || "");
  return h("div", { class: "trace-log", dataset: { spanId: row.span_id || "" } },
    h("div", { class: "trace-log-meta" },
      h("span", { class: "ctx-time mono", text: formatTime(row.timestamp).slice(11) , title: formatTime(row.timestamp) }),
      level ? h("span", { class: `level ${LEVEL_CLASS[level.toUpperCase()] || "lvl-other"}`, text: level }) : null,
      h("span", { class: "trace-log-service", text: row.service || "" }),
      row.span_id ? h("button", { type: "button", class: "link-btn span-ref mono", text: row.span_id, title: "Show this span", onclick: onSpan }) : null),
    h("div", { class: "trace-log-msg", text: row.message ?? "" }));
}

/**
 * The waterfall: one row per span, a bar on the trace's time axis, details on click.
 * @param {any[]} spans
 * @param {ReturnType<typeof summarize>} s
 * @returns {{el: HTMLElement, select: (spanId: string) => void}}
 */
function waterfall(spans, s) {
  const total = Math.max(1, s.duration);
  const tree = spanTree(spans);
  const called = calledServices(spans);
  const pct = (us) => `${Math.min(100, Math.max(0, (us / total) * 100))}%`;

  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => {
    const t = h("span", { class: "wf-tick", text: f === 0 ? "0" : formatDuration(total * f) });
    t.style.left = `${f * 100}%`;
    if (f === 1) t.classList.add("last");
    return t;
  });
  const legend = h("div", { class: "wf-legend" }, s.services.map((name) => {
    const sw = h("span", { class: "swatch", attrs: { "aria-hidden": "true" } });
    sw.style.background = serviceColor(name);
    return h("span", { class: "hist-item" }, sw, h("span", { text: name }));
  }));
  const rowsEl = h("div", { class: "wf-rows", attrs: { role: "tree" } });
  const rows = [];
  let open = null;

  const toggle = (entry) => {
    if (open) {
      open.row.setAttribute("aria-expanded", "false");
      open.detail.remove();
      const same = open === entry;
      open = null;
      if (same) return;
    }
    entry.detail = spanDetail(entry.span, s, called.get(entry.span) || "");
    entry.row.after(entry.detail);
    entry.row.setAttribute("aria-expanded", "true");
    open = entry;
  };

  for (const { span, depth, orphan } of tree) {
    const service = spanService(span);
    const start = (span.timestamp || s.start) - s.start;
    const error = isError(span);
    const bar = h("span", { class: "wf-bar" });
    bar.style.left = pct(start);
    bar.style.width = `max(2px, ${pct(span.duration || 0)})`;
    bar.style.background = serviceColor(service);
    const label = h("span", { class: "wf-dur", text: formatDuration(span.duration || 0) });
    if (start / total > 0.7) {
      label.classList.add("left");
      label.style.right = `calc(100% - ${pct(start)} + 4px)`;
    } else label.style.left = `calc(${pct(start + (span.duration || 0))} + 4px)`;
    const remote = called.get(span) || "";
    const name = h("div", { class: "wf-name" },
      error && span.localEndpoint?.serviceName ? circuitLink(service, remote) : h("span", { class: "wf-service", text: service }),
      remote ? h("span", { class: "wf-remote", text: `→ ${remote}`, title: `${service} calls ${remote}` }) : null,
      h("span", { class: "wf-op", text: span.name || "(no name)" }),
      error ? h("span", { class: "error-mark", text: "error" }) : null,
      orphan ? h("span", { class: "muted wf-orphan", text: "parent missing", title: `parent ${span.parentId} is not in this trace` }) : null);
    name.style.paddingLeft = `${8 + depth * 16}px`;
    name.style.borderLeftColor = serviceColor(service);
    const row = h("div", {
      class: `wf-row${error ? " error" : ""}`, tabIndex: 0,
      attrs: { role: "treeitem", "aria-level": depth + 1, "aria-expanded": "false" },
      dataset: { spanId: span.id, depth: String(depth), service, testid: "span-row" },
    }, name, h("div", { class: "wf-track" }, bar, label));
    const entry = { span, row, detail: null };
    row.addEventListener("click", () => toggle(entry));
    row.addEventListener("keydown", (e) => {
      if (e.target.closest("a")) return; // Enter on the circuit link follows it
      if (e.key === "Enter" || e.key === " ") {
        e.preventDefault();
        toggle(entry);
      }
    });
    rows.push(entry);
    rowsEl.append(row);
  }

  const el = h("div", { class: "waterfall" },
    h("div", { class: "wf-header" }, h("div", { class: "wf-name-head" }, legend), h("div", { class: "wf-axis" }, ticks)),
    s.missingRoot ? h("div", { class: "wf-missing-root", attrs: { role: "note" }, dataset: { testid: "wf-missing-root" } },
      h("b", { text: "Missing root span" }),
      h("span", { text: ` — the span ${s.root.parentId} that started this trace has not arrived: the trace may still be in flight (a root is reported when its request ends) or its root was lost. The spans below hang from parents that are not here.` })) : null,
    rowsEl);
  return {
    el,
    select(spanId) {
      const entry = rows.find((r) => r.span.id === spanId);
      if (!entry) return;
      if (open !== entry) toggle(entry);
      entry.row.scrollIntoView({ block: "nearest" });
      entry.row.focus();
    },
  };
}

/**
 * A failing span's service as a link to its circuits (the on-call path of docs/ui.md):
 * the Circuits page on the cluster named after the service, with the circuit of the
 * service it called picked out. A registered service's instances are the cluster of its
 * name, and breakers are named after the dependency they guard (as the demo's are), so
 * an error in `orders` calling `payments` leads to the `payments` circuit of `orders`.
 * @param {string} service
 * @param {string} remote the service the span called ("" for none; see calledServices)
 * @returns {HTMLElement}
 */
function circuitLink(service, remote) {
  return h("a", {
    class: "wf-service circuit-link", text: service,
    href: hrefFor("circuits", { cluster: service, circuit: remote }),
    title: remote ? `Circuits of ${service}: the circuit of its calls to ${remote}` : `Circuits of ${service}`,
    dataset: { testid: "circuit-link" },
    onclick: (e) => e.stopPropagation(),
  });
}

/**
 * The details of one span.
 * @param {any} span
 * @param {ReturnType<typeof summarize>} s
 * @param {string} remote the service it called ("" for none)
 * @returns {HTMLElement}
 */
function spanDetail(span, s, remote) {
  const kv = (rows) => h("table", { class: "kv" }, h("tbody", {}, rows.filter(Boolean).map(([k, v, cls]) =>
    h("tr", { dataset: { field: k } }, h("th", { class: cls || "", text: k, title: k }), h("td", { class: "kv-value mono" }, v instanceof Node ? v : String(v ?? ""))))));
  const offset = (ts) => `+${formatDuration((ts || s.start) - s.start)}`;
  const tags = Object.entries(span.tags || {}).sort(([a], [b]) => a.localeCompare(b));
  const annotations = (span.annotations || []).slice().sort((a, b) => a.timestamp - b.timestamp);
  const endpoint = (e) => e ? [e.ipv4 || e.ipv6, e.port].filter(Boolean).join(":") : "";
  return h("div", { class: "wf-detail", dataset: { testid: "span-detail" } },
    h("div", { class: "detail-cols" },
      h("div", {},
        h("div", { class: "popover-title", text: "Span" }),
        kv([
          ["service", spanService(span)],
          ["name", span.name || ""],
          ["kind", span.kind || "(local)"],
          remote ? ["remote service", remote] : null,
          ["duration", formatDuration(span.duration || 0)],
          ["start", `${formatTime((span.timestamp || s.start) / 1000)} (${offset(span.timestamp)})`],
          ["span id", span.id],
          ["parent id", span.parentId || "(root)"],
          ["trace id", span.traceId],
          endpoint(span.localEndpoint) ? ["local endpoint", endpoint(span.localEndpoint)] : null,
          endpoint(span.remoteEndpoint) ? ["remote endpoint", endpoint(span.remoteEndpoint)] : null,
          span.shared ? ["shared", "true"] : null,
        ]),
        h("a", { class: "btn small", href: hrefFor("logs", { q: `${fieldTerm("trace_id", span.traceId)} ${fieldTerm("span_id", span.id)}`, from: "-7d" }), text: "Logs of this span" })),
      h("div", {},
        h("div", { class: "popover-title", text: `Tags (${tags.length})` }),
        tags.length ? kv(tags.map(([k, v]) => [k, v, k === "error" ? "attr error-text" : "attr"])) : h("p", { class: "muted", text: "No tags." }),
        h("div", { class: "popover-title", text: `Annotations (${annotations.length})` }),
        annotations.length
          ? kv(annotations.map((a) => [offset(a.timestamp), a.value]))
          : h("p", { class: "muted", text: "No annotations." }))));
}
