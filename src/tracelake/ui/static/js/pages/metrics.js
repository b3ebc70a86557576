// Metrics: PromQL queries on one chart (promql-explore.js), and a RED dashboard per service.
//
// The query rows run on the Prometheus API (`/prometheus/api/v1/…`): `query_range` over
// the chosen range with a step, or `query` at its end (instant). The RED dashboard needs
// no query: pick a service and see its request rate, errors and duration over time, from
// the served requests (entry spans) its tracing sends, plus the same figures per
// operation (`/api/v1/traces/red`). Everything is in the URL, and `refresh` re-runs it:
// `#/metrics?q=…&q2=…&mode=instant&step=30s&from=-1h&to=&refresh=10s&service=orders`.

import { getJSON, sql } from "../api.js";
import { coveredText, formatCount, h, replace } from "../dom.js";
import { chooseStep, promqlExplore } from "../promql-explore.js";
import { autoRefresh } from "../refresh.js";
import { navigate } from "../router.js";
import { DEFAULT_FROM, resolveRange, timeRangePicker } from "../timerange.js";
import { formatValue, timeSeriesChart } from "../timeseries.js";

export { chooseStep, sampleValue, seriesName } from "../promql-explore.js";

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
  const controllers = { red: null };

  const picker = timeRangePicker({ from: state.from, to: state.to, onChange: ({ from, to }) => go({ from, to }) });
  const explore = promqlExplore({ queries: state.queries, mode: state.mode, step: state.step, onRun: (changes) => go(changes) });
  const refresher = autoRefresh({ value: state.refresh, onChange: (refresh) => go({ refresh }), tick: () => refresh() });
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
      h("div", { class: "toolbar panel-toolbar" }, h("h1", { class: "page-title", text: "Metrics" }), h("span", { class: "toolbar-spacer" }), picker.el, refresher.el)),
    explore.el,
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
    const queries = Object.fromEntries(next.queries.filter(Boolean).map((q, i) => [i ? `q${i + 1}` : "q", q]));
    navigate("metrics", {
      ...queries, mode: next.mode === "range" ? "" : next.mode, step: next.step,
      from: next.from === DEFAULT_FROM ? "" : next.from, to: next.to, refresh: next.refresh, service: next.service,
    });
  }

  function runPromQL() {
    explore.run(resolveRange(state.from, state.to));
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

  refresh();

  return {
    update(next) {
      state = readRoute(next);
      picker.set(state.from, state.to);
      explore.set(state);
      refresher.set(state.refresh);
      refresh();
    },
    unmount() {
      for (const c of Object.values(controllers)) if (c) c.abort();
      refresher.stop();
      explore.destroy();
      for (const c of Object.values(charts)) c.destroy();
    },
  };
}

function readRoute(route) {
  const p = route.params;
  const queries = [p.get("q") || ""];
  for (let i = 2; p.has(`q${i}`); i++) queries.push(p.get(`q${i}`) || "");
  return {
    queries, mode: p.get("mode") === "instant" ? "instant" : "range", step: p.get("step") || "",
    from: p.get("from") || DEFAULT_FROM, to: p.get("to") || "", refresh: p.get("refresh") || "", service: p.get("service") || "",
  };
}
