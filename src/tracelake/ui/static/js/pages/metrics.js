// Metrics: a PromQL box with its time-series chart, and a RED dashboard per service.
//
// The PromQL box runs `query_range` on the Prometheus API (`/prometheus/api/v1/…`) over
// the chosen range. The RED dashboard needs no query: pick a service and see its request
// rate, errors and duration over time, from the served requests (entry spans) its
// tracing sends, plus the same figures per operation (`/api/v1/traces/red`).
// `#/metrics?q=…&from=-1h&to=&service=orders`.

import { getJSON, sql } from "../api.js";
import { coveredText, formatCount, h, replace } from "../dom.js";
import { navigate } from "../router.js";
import { DEFAULT_FROM, resolveRange, timeRangePicker } from "../timerange.js";
import { formatValue, timeSeriesChart } from "../timeseries.js";

const STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400];

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

/** RED over time from entry spans: bucket start (ms), calls, errors, latency quantiles (ms). */
const RED_SQL = `SELECT epoch_ms(time_bucket(to_microseconds(?::BIGINT), timestamp)) AS t,
  count(*) AS calls,
  count(*) FILTER (WHERE status = 'error') AS errors,
  quantile_cont(duration_us, 0.5) / 1000 AS p50,
  quantile_cont(duration_us, 0.95) / 1000 AS p95,
  quantile_cont(duration_us, 0.99) / 1000 AS p99
FROM spans
WHERE lower(service) = lower(?)
  AND timestamp >= make_timestamptz(?::BIGINT) AND timestamp < make_timestamptz(?::BIGINT)
  AND (kind IN ('SERVER', 'CONSUMER') OR parent_id IS NULL)
GROUP BY t ORDER BY t`;

/**
 * Mount the Metrics page.
 * @param {HTMLElement} root
 * @param {import("../router.js").Route} route
 * @returns {{update: (route: import("../router.js").Route) => void, unmount: () => void}}
 */
export function mount(root, route) {
  let state = readRoute(route);
  const controllers = { promql: null, red: null };

  const picker = timeRangePicker({ from: state.from, to: state.to, onChange: ({ from, to }) => go({ from, to }) });
  const queryInput = h("input", {
    class: "query-input mono", type: "text", value: state.q, spellcheck: false,
    placeholder: "a PromQL expression, e.g. sum by (service) (rate(demo_requests_total[1m]))",
    attrs: { "aria-label": "PromQL", list: "metric-names", autocomplete: "off" }, dataset: { testid: "promql" },
  });
  const metricNames = h("datalist", { id: "metric-names" });
  const promStatus = h("span", { class: "muted sql-status", dataset: { testid: "promql-status" } });
  const promChart = h("div", { class: "ts-box" });
  const chart = timeSeriesChart(promChart, { testid: "promql-chart" });
  const serviceSelect = h("select", { class: "select", attrs: { "aria-label": "Service" }, dataset: { testid: "red-service" } });
  serviceSelect.addEventListener("change", () => go({ service: serviceSelect.value }));
  const redStatus = h("span", { class: "muted sql-status", dataset: { testid: "red-status" } });
  const boxes = { rate: h("div", { class: "ts-box" }), errors: h("div", { class: "ts-box" }), duration: h("div", { class: "ts-box" }) };
  const charts = {
    rate: timeSeriesChart(boxes.rate, { height: 160, unit: "req/s", testid: "red-rate" }),
    errors: timeSeriesChart(boxes.errors, { height: 160, unit: "err/s", testid: "red-errors" }),
    duration: timeSeriesChart(boxes.duration, { height: 160, unit: "ms", testid: "red-duration" }),
  };
  const figures = h("div", { class: "red-figures", dataset: { testid: "red-figures" } });
  const operations = h("div", { class: "red-operations" });

  replace(root,
    h("div", { class: "panel" },
      h("div", { class: "toolbar panel-toolbar" }, h("h1", { class: "page-title", text: "Metrics" }), h("span", { class: "toolbar-spacer" }), picker.el)),
    h("section", { class: "panel" },
      h("form", { class: "toolbar panel-toolbar", onsubmit: (e) => { e.preventDefault(); go({ q: queryInput.value.trim() }); } },
        h("div", { class: "query-wrap" }, queryInput, metricNames),
        h("button", { type: "submit", class: "btn primary", text: "Run", dataset: { testid: "promql-run" } }),
        promStatus),
      promChart),
    h("section", { class: "panel" },
      h("div", { class: "results-head" }, h("h2", { text: "RED by service" }), serviceSelect, redStatus,
        h("span", { class: "muted legend-hint", text: "rate, errors and duration of the requests a service served (its entry spans)" })),
      figures,
      h("div", { class: "red-charts" },
        h("div", { class: "red-chart" }, h("h3", { text: "Rate" }), boxes.rate),
        h("div", { class: "red-chart" }, h("h3", { text: "Errors" }), boxes.errors),
        h("div", { class: "red-chart" }, h("h3", { text: "Duration" }), boxes.duration)),
      operations));

  function go(changes) {
    const next = { ...state, ...changes };
    navigate("metrics", { q: next.q, from: next.from === DEFAULT_FROM ? "" : next.from, to: next.to, service: next.service });
  }

  async function runPromQL() {
    if (controllers.promql) controllers.promql.abort();
    const controller = new AbortController();
    controllers.promql = controller;
    if (!state.q) {
      chart.showMessage("Type a PromQL expression and press Enter: metrics scraped from services, received by remote_write or OTLP.");
      promStatus.textContent = "";
      return;
    }
    const { fromMs, toMs } = resolveRange(state.from, state.to);
    const step = chooseStep((toMs - fromMs) / 1000);
    promStatus.textContent = "Running…";
    const started = performance.now();
    try {
      const answer = await getJSON("/prometheus/api/v1/query_range",
        { query: state.q, start: fromMs / 1000, end: toMs / 1000, step }, controller.signal);
      const data = answer.data || {};
      const result = data.result || [];
      let series;
      if (data.resultType === "matrix") {
        series = result.map((r) => ({ label: seriesName(r.metric), points: (r.values || []).map(([t, v]) => [Number(t), sampleValue(v)]) }));
      } else if (data.resultType === "vector") {
        series = result.map((r) => ({ label: seriesName(r.metric), points: [[Number(r.value[0]), sampleValue(r.value[1])]] }));
      } else {
        series = [];
      }
      chart.update(series, { fromS: fromMs / 1000, toS: toMs / 1000 });
      promStatus.textContent = `${series.length} series · step ${step} s · ${Math.round(performance.now() - started)} ms`;
    } catch (error) {
      if (error.name === "AbortError") return;
      promStatus.textContent = "";
      chart.showMessage(error.status === 404
        ? "This server has no PromQL API (GET /prometheus/api/v1/query_range answered 404)."
        : `PromQL error: ${error.message}`, true);
    }
  }

  async function loadMetricNames() {
    try {
      const answer = await getJSON("/prometheus/api/v1/label/__name__/values");
      replace(metricNames, (answer.data || []).slice(0, 2000).map((name) => h("option", { value: String(name) })));
    } catch {
      // no suggestions: the box still takes any expression
    }
  }

  async function loadServices() {
    try {
      const services = (await getJSON("/api/v2/services")) || [];
      // No service in the URL: show the first, without a navigation that could race a query.
      if (!state.service && services.length) state.service = services[0];
      replace(serviceSelect,
        services.length ? null : h("option", { value: "", text: "no traced services" }),
        services.map((s) => h("option", { value: String(s), text: String(s), selected: s === state.service })));
      if (state.service && !services.includes(state.service)) serviceSelect.append(h("option", { value: state.service, text: state.service, selected: true }));
      return services;
    } catch (error) {
      redStatus.textContent = `services unavailable: ${error.message}`;
      return [];
    }
  }

  async function runRED() {
    if (controllers.red) controllers.red.abort();
    const controller = new AbortController();
    controllers.red = controller;
    if (!state.service) {
      for (const c of Object.values(charts)) c.showMessage("No service has sent traces in this range yet.");
      replace(figures);
      replace(operations);
      return;
    }
    const { fromMs, toMs } = resolveRange(state.from, state.to);
    const step = chooseStep((toMs - fromMs) / 1000, 120);
    redStatus.textContent = "Loading…";
    try {
      const [series, summary] = await Promise.all([
        sql(RED_SQL, [step * 1_000_000, state.service, fromMs * 1000, toMs * 1000], controller.signal),
        getJSON("/api/v1/traces/red", { service: state.service, from: new Date(fromMs).toISOString(), to: new Date(toMs).toISOString() }, controller.signal),
      ]);
      const rows = series.rows.map(([t, calls, errors, p50, p95, p99]) => ({ t: Number(t) / 1000, calls: Number(calls), errors: Number(errors), p50, p95, p99 }));
      const range = { fromS: fromMs / 1000, toS: toMs / 1000 };
      charts.rate.update(rows.length ? [{ label: "requests/s", points: rows.map((r) => [r.t, r.calls / step]) }] : [], range);
      charts.errors.update(rows.length ? [{ label: "errors/s", points: rows.map((r) => [r.t, r.errors / step]) }] : [], range);
      charts.duration.update(rows.length ? ["p50", "p95", "p99"].map((q) => ({ label: q, points: rows.map((r) => [r.t, r[q] === null ? null : Number(r[q])]) })) : [], range);
      renderSummary(summary.rows || [], summary.covered);
      redStatus.textContent = `${step} s buckets`;
    } catch (error) {
      if (error.name === "AbortError") return;
      redStatus.textContent = "";
      for (const c of Object.values(charts)) c.showMessage(`RED unavailable: ${error.message}`, true);
    }
  }

  function renderSummary(rows, covered) {
    const total = rows.find((r) => r.operation === null);
    if (!total) {
      replace(figures, h("span", { class: "muted", text: `No requests served by ${state.service} in this range.` }));
      replace(operations);
      return;
    }
    const fig = (label, value, testid, title = "") => h("div", { class: "red-figure", title }, h("span", { class: "muted", text: label }), h("b", { text: value, dataset: { testid } }));
    const over = coveredText(covered);
    replace(figures,
      fig("Requests", formatCount(total.requests), "red-requests"),
      fig(`Rate ${over}`, formatValue(total.rate_per_s, "req/s"), "red-rate-total",
        "requests per second of the part of the range that has spans (from the first span to the range's end)"),
      fig("Errors", `${formatCount(total.errors)} (${(total.error_ratio * 100).toFixed(1)} %)`, "red-error-total"),
      fig("p50", formatValue(total.latency_ms.p50, "ms"), "red-p50"),
      fig("p95", formatValue(total.latency_ms.p95, "ms"), "red-p95"),
      fig("p99", formatValue(total.latency_ms.p99, "ms"), "red-p99"));
    const ops = rows.filter((r) => r.operation !== null).sort((a, b) => b.requests - a.requests);
    replace(operations, h("div", { class: "table-scroll" },
      h("table", { class: "data-table", dataset: { testid: "red-operations" } },
        h("thead", {}, h("tr", {}, ["Operation", "Requests", "Rate", "Errors", "Error %", "p50", "p95", "p99"].map((c, i) => h("th", { scope: "col", class: i ? "num" : "", text: c })))),
        h("tbody", {}, ops.map((r) => h("tr", { dataset: { testid: "red-operation" } },
          h("td", { class: "mono", text: String(r.operation) }),
          h("td", { class: "num mono", text: formatCount(r.requests) }),
          h("td", { class: "num mono", text: formatValue(r.rate_per_s, "/s") }),
          h("td", { class: "num mono", text: formatCount(r.errors) }),
          h("td", { class: "num mono", text: `${(r.error_ratio * 100).toFixed(1)} %` }),
          h("td", { class: "num mono", text: formatValue(r.latency_ms.p50, "ms") }),
          h("td", { class: "num mono", text: formatValue(r.latency_ms.p95, "ms") }),
          h("td", { class: "num mono", text: formatValue(r.latency_ms.p99, "ms") })))))));
  }

  async function refresh() {
    runPromQL();
    await loadServices();
    runRED();
  }

  loadMetricNames();
  refresh();

  return {
    update(next) {
      state = readRoute(next);
      picker.set(state.from, state.to);
      if (queryInput.value.trim() !== state.q) queryInput.value = state.q;
      refresh();
    },
    unmount() {
      for (const c of Object.values(controllers)) if (c) c.abort();
      chart.destroy();
      for (const c of Object.values(charts)) c.destroy();
    },
  };
}

function readRoute(route) {
  const p = route.params;
  return { q: p.get("q") || "", from: p.get("from") || DEFAULT_FROM, to: p.get("to") || "", service: p.get("service") || "" };
}
