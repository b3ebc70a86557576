// PromQL as Grafana Explore offers it: several query rows (A, B, C…) drawn on one chart,
// each series marked with its query; range (query_range, a step) or instant (query, a
// table of values); the y-axis unit read from the metric names (units.js).
// The page keeps the state in its URL; this module draws and runs it.

import { getJSON } from "./api.js";
import { h, replace } from "./dom.js";
import { timeSeriesChart } from "./timeseries.js";
import { formatUnit, unitOf } from "./units.js";

const STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400];
/** At most this many query rows (Grafana has no hard limit; a chart stops being readable). */
export const MAX_QUERIES = 8;

/**
 * The query step for a range: the smallest round step giving at most `points` points.
 * @param {number} spanS
 * @param {number} [points]
 * @returns {number} seconds
 */
export function chooseStep(spanS, points = 240) {
  return STEPS.find((s) => spanS / s <= points) || STEPS[STEPS.length - 1];
}

/**
 * A step typed by the user as seconds: `15`, `15s`, `1m`, `2h`; null when it is none.
 * @param {string} text
 * @returns {number|null}
 */
export function parseStep(text) {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(String(text || ""));
  if (!m) return null;
  const n = Number(m[1]) * { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 }[m[2] || "s"];
  return n > 0 ? n : null;
}

/**
 * A Prometheus label set as text: `name{a="x", b="y"}` (`{}` for a bare scalar).
 * @param {Record<string, string>} metric
 * @returns {string}
 */
export function seriesName(metric) {
  const { __name__: name = "", ...labels } = metric || {};
  const pairs = Object.keys(labels).sort().map((k) => `${k}=${JSON.stringify(String(labels[k]))}`);
  return pairs.length ? `${name}{${pairs.join(", ")}}` : name || "{}";
}

/**
 * A Prometheus value string (`"1.5"`, `"NaN"`, `"+Inf"`) as a number; NaN and ±Inf as null.
 * @param {string} value
 * @returns {number|null}
 */
export function sampleValue(value) {
  const n = Number(value);
  return Number.isFinite(n) ? n : null;
}

/** The letter of the i-th query row, as Grafana names them. */
export const letter = (i) => String.fromCharCode(65 + i);

/**
 * The PromQL panel.
 * @param {{queries: string[], mode: string, step: string, onRun: (changes: {queries?: string[], mode?: string, step?: string}) => void}} options
 * @returns {{el: HTMLElement, set: (s: {queries: string[], mode: string, step: string}) => void, run: (range: {fromMs: number, toMs: number}) => Promise<void>, destroy: () => void}}
 */
export function promqlExplore({ queries, mode, step, onRun }) {
  let state = { queries: queries.length ? queries : [""], mode, step };
  let controller = null;
  const rowsEl = h("div", { class: "promql-rows", dataset: { testid: "promql-rows" } });
  const metricNames = h("datalist", { id: "metric-names" });
  const status = h("span", { class: "muted sql-status", dataset: { testid: "promql-status" } });
  const modeSelect = h("div", { class: "segmented", attrs: { role: "radiogroup", "aria-label": "Query type" } },
    [["range", "Range"], ["instant", "Instant"]].map(([id, label]) => h("button", {
      type: "button", class: "btn seg", text: label, dataset: { testid: `mode-${id}`, mode: id },
      attrs: { role: "radio" }, onclick: () => onRun({ queries: values(), step: stepInput.value.trim(), mode: id }),
    })));
  const stepInput = h("input", {
    class: "query-input step-input mono", type: "text", value: state.step, placeholder: "auto",
    spellcheck: false, attrs: { "aria-label": "Step", title: "step of the range query: 15, 15s, 1m… (empty: about 240 points)" }, dataset: { testid: "step" },
  });
  stepInput.addEventListener("change", () => onRun({ queries: values(), step: stepInput.value.trim() }));
  const chartBox = h("div", { class: "ts-box" });
  const chart = timeSeriesChart(chartBox, { testid: "promql-chart" });
  const tableBox = h("div", { class: "instant-table", hidden: true, dataset: { testid: "instant-table" } });
  const addButton = h("button", { type: "button", class: "btn", text: "+ Add query", dataset: { testid: "add-query" },
    onclick: () => {
      if (values().length >= MAX_QUERIES) return;
      state.queries = [...values(), ""];
      drawRows();
      rowsEl.querySelectorAll("input")[state.queries.length - 1].focus();
    } });

  const form = h("form", { class: "promql-form", onsubmit: (e) => { e.preventDefault(); onRun({ queries: values(), step: stepInput.value.trim() }); } },
    rowsEl, metricNames,
    h("div", { class: "toolbar promql-actions" },
      addButton, modeSelect,
      h("label", { class: "muted step-label" }, "Step ", stepInput),
      h("button", { type: "submit", class: "btn primary", text: "Run", dataset: { testid: "promql-run" } }),
      status));

  function values() {
    return [...rowsEl.querySelectorAll("input.promql-input")].map((i) => i.value.trim());
  }

  function drawRows() {
    replace(rowsEl, state.queries.map((q, i) => {
      const input = h("input", {
        class: "query-input promql-input mono", type: "text", value: q, spellcheck: false,
        placeholder: "a PromQL expression, e.g. sum by (service) (rate(demo_requests_total[1m]))",
        attrs: { "aria-label": `PromQL ${letter(i)}`, list: "metric-names", autocomplete: "off" },
        dataset: { testid: i ? `promql-${letter(i)}` : "promql" },
      });
      const remove = h("button", {
        type: "button", class: "btn icon-btn", text: "×", title: `Remove query ${letter(i)}`, disabled: state.queries.length === 1,
        attrs: { "aria-label": `Remove query ${letter(i)}` }, dataset: { testid: "remove-query" },
        onclick: () => {
          const rest = values().filter((_, j) => j !== i);
          onRun({ queries: rest.length ? rest : [""] });
        },
      });
      return h("div", { class: "promql-row", dataset: { testid: "query-row", query: letter(i) } },
        h("span", { class: "query-letter mono", text: letter(i) }),
        h("div", { class: "query-wrap" }, input), remove,
        h("span", { class: "muted query-row-status", dataset: { testid: "query-status" } }));
    }));
    addButton.disabled = state.queries.length >= MAX_QUERIES;
  }

  function drawMode() {
    for (const b of modeSelect.children) {
      const on = b.dataset.mode === state.mode;
      b.classList.toggle("active", on);
      b.setAttribute("aria-checked", String(on));
    }
    stepInput.disabled = state.mode === "instant";
    chartBox.hidden = state.mode === "instant";
    tableBox.hidden = state.mode !== "instant";
  }

  async function loadMetricNames() {
    try {
      const answer = await getJSON("/prometheus/api/v1/label/__name__/values");
      replace(metricNames, (answer.data || []).slice(0, 2000).map((name) => h("option", { value: String(name) })));
    } catch {
      // no suggestions: the box still takes any expression
    }
  }

  async function runOne(q, params, signal) {
    const path = state.mode === "instant" ? "/prometheus/api/v1/query" : "/prometheus/api/v1/query_range";
    const answer = await getJSON(path, { query: q, ...params }, signal);
    const data = answer.data || {};
    const result = data.result || [];
    if (data.resultType === "matrix") return result.map((r) => ({ metric: r.metric, points: (r.values || []).map(([t, v]) => [Number(t), sampleValue(v)]) }));
    if (data.resultType === "vector") return result.map((r) => ({ metric: r.metric, points: [[Number(r.value[0]), sampleValue(r.value[1])]] }));
    if (data.resultType === "scalar") return [{ metric: {}, points: [[Number(data.result[0]), sampleValue(data.result[1])]] }];
    return [];
  }

  async function run({ fromMs, toMs }) {
    if (controller) controller.abort();
    controller = new AbortController();
    const { signal } = controller;
    const rows = [...rowsEl.querySelectorAll('[data-testid="query-row"]')];
    const active = state.queries.map((q, i) => ({ q, i })).filter(({ q }) => q);
    if (!active.length) {
      chart.showMessage("Type a PromQL expression and press Enter: metrics scraped from services, received by remote_write or OTLP.");
      replace(tableBox);
      status.textContent = "";
      return;
    }
    const typed = parseStep(state.step);
    const step = typed || chooseStep((toMs - fromMs) / 1000);
    const params = state.mode === "instant" ? { time: toMs / 1000 } : { start: fromMs / 1000, end: toMs / 1000, step };
    const unit = unitOf(active[0].q);
    status.textContent = "Running…";
    const started = performance.now();
    const outcomes = await Promise.all(active.map(({ q }) => runOne(q, params, signal).then((series) => ({ series }), (error) => ({ error }))));
    if (signal.aborted) return;
    const series = [];
    const errors = [];
    const multi = active.length > 1;
    outcomes.forEach((outcome, k) => {
      const { i } = active[k];
      const cell = rows[i] && rows[i].querySelector('[data-testid="query-status"]');
      if (outcome.error) {
        if (outcome.error.name === "AbortError") return;
        errors.push(`${letter(i)}: ${outcome.error.status === 404 ? "this server has no PromQL API (GET /prometheus/api/v1/query_range answered 404)" : outcome.error.message}`);
        if (cell) { cell.textContent = "error"; cell.className = "error-text query-row-status"; }
        return;
      }
      if (cell) { cell.textContent = `${outcome.series.length} series`; cell.className = "muted query-row-status"; }
      for (const s of outcome.series) series.push({ label: seriesName(s.metric), group: multi ? letter(i) : "", points: s.points });
    });
    const format = (v) => formatUnit(v, unit);
    if (state.mode === "instant") drawTable(series, format, errors);
    else if (errors.length && !series.length) chart.showMessage(`PromQL error: ${errors.join(" · ")}`, true);
    else chart.update(series, { fromS: fromMs / 1000, toS: toMs / 1000, unit: format });
    const took = Math.round(performance.now() - started);
    status.textContent = [
      `${series.length} series`,
      state.mode === "instant" ? `at ${new Date(toMs).toISOString().slice(11, 19)} UTC` : `step ${step} s${typed ? "" : " (auto)"}`,
      `${took} ms`,
      errors.length && series.length ? `PromQL error: ${errors.join(" · ")}` : "",
    ].filter(Boolean).join(" · ");
  }

  function drawTable(series, format, errors) {
    replace(tableBox,
      errors.length ? h("div", { class: "error-text", text: `PromQL error: ${errors.join(" · ")}`, dataset: { testid: "instant-error" } }) : null,
      series.length
        ? h("table", { class: "data-table" },
          h("thead", {}, h("tr", {}, h("th", { scope: "col", text: "Query" }), h("th", { scope: "col", text: "Series" }), h("th", { scope: "col", class: "num", text: "Value" }))),
          h("tbody", {}, series.map((s) => h("tr", { dataset: { testid: "instant-row" } },
            h("td", { class: "mono", text: s.group || "A" }),
            h("td", { class: "mono", text: s.label }),
            h("td", { class: "num mono", text: format(s.points.length ? s.points[s.points.length - 1][1] : null) })))))
        : errors.length ? null : h("div", { class: "muted empty-note", text: "No series at this time." }));
  }

  drawRows();
  drawMode();
  loadMetricNames();

  return {
    el: h("section", { class: "panel promql-panel" }, form, chartBox, tableBox),
    set(next) {
      const current = values();
      const queriesChanged = next.queries.length !== current.length || next.queries.some((q, i) => q !== current[i]);
      state = { queries: next.queries.length ? next.queries : [""], mode: next.mode, step: next.step };
      if (queriesChanged) drawRows();
      if (stepInput.value.trim() !== state.step) stepInput.value = state.step;
      drawMode();
    },
    run,
    destroy() {
      if (controller) controller.abort();
      chart.destroy();
    },
  };
}
