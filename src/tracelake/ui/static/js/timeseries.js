// A time-series line chart (uPlot, vendored) with a legend built as text.
//
// uPlot's own legend is off: series names come from data (label values), and here they
// only ever become text nodes. Hovering shows each series' value at the cursor.

import { formatTime, h, replace } from "./dom.js";

const PALETTE = ["#1f5bd1", "#e0534a", "#4f9f86", "#e8a33d", "#8e44c9", "#2aa3b8", "#b5651d", "#d6457f", "#5d6673", "#7cb342"];

/**
 * A colour per series index.
 * @param {number} i
 * @returns {string}
 */
export function seriesColor(i) {
  return PALETTE[i % PALETTE.length];
}

/**
 * Merge series of [seconds, value] points onto one sorted time axis (uPlot's data shape);
 * a series without a point at a time gets null there.
 * @param {Array<{points: Array<[number, number]>}>} series
 * @returns {Array<Array<number|null>>} [xs, ys of series 0, ys of series 1, ...]
 */
export function align(series) {
  const times = [...new Set(series.flatMap((s) => s.points.map(([t]) => t)))].sort((a, b) => a - b);
  const index = new Map(times.map((t, i) => [t, i]));
  const columns = series.map((s) => {
    const ys = new Array(times.length).fill(null);
    for (const [t, v] of s.points) ys[index.get(t)] = Number.isFinite(v) ? v : null;
    return ys;
  });
  return [times, ...columns];
}

/**
 * A value for an axis or the legend: 3 significant digits, k/M suffixes.
 * @param {number|null} v
 * @param {string} [unit]
 * @returns {string}
 */
export function formatValue(v, unit = "") {
  if (v === null || v === undefined || !Number.isFinite(v)) return "–";
  const a = Math.abs(v);
  let text;
  if (a >= 1e9) text = `${+(v / 1e9).toPrecision(3)}G`;
  else if (a >= 1e6) text = `${+(v / 1e6).toPrecision(3)}M`;
  else if (a >= 1e4) text = `${+(v / 1e3).toPrecision(3)}k`;
  else if (a === 0) text = "0";
  else text = String(+v.toPrecision(3));
  return unit ? `${text} ${unit}` : text;
}

/**
 * The y-axis of a chart: uPlot's own padding around the data, but a flat line of zeros
 * (no errors at all) gets 0 to 1, not uPlot's 0 to 100, and a flat line elsewhere gets
 * room from 0 to twice its value.
 * @param {number|null} min
 * @param {number|null} max
 * @returns {[number, number]}
 */
export function yRange(min, max) {
  if (min === null || max === null || !Number.isFinite(min) || !Number.isFinite(max)) return [0, 1];
  if (min === max) return min === 0 ? [0, 1] : min > 0 ? [0, 2 * min] : [2 * min, 0];
  return globalThis.uPlot.rangeNum(min, max, 0.1, true);
}

/**
 * Create a chart in `container`.
 * @param {HTMLElement} container
 * `unit` is a suffix, or a function formatting a value (axis and legend); `update` may
 * pass another for its series. A series' `group` (the query it came from) is shown
 * before its label.
 * @param {{height?: number, unit?: string|((v: number|null) => string), testid?: string}} [options]
 * @returns {{update: (series: Array<{label: string, group?: string, points: Array<[number, number]>}>, range: {fromS: number, toS: number, unit?: string|((v: number|null) => string)}) => void,
 *            showMessage: (text: string, isError?: boolean) => void, destroy: () => void}}
 */
export function timeSeriesChart(container, { height = 220, unit = "", testid = "chart" } = {}) {
  const chartEl = h("div", { class: "ts-chart" });
  const legend = h("div", { class: "ts-legend", dataset: { testid: `${testid}-legend` } });
  const message = h("div", { class: "ts-message", hidden: true, dataset: { testid: `${testid}-message` } });
  replace(container, message, chartEl, legend);
  container.dataset.testid = testid;
  let plot = null;
  let current = [];
  const items = [];
  const formatter = (u) => (typeof u === "function" ? u : (v) => formatValue(v, u));
  let format = formatter(unit);

  const width = () => Math.max(240, chartEl.clientWidth || container.clientWidth || 800);
  const observer = new ResizeObserver(() => {
    if (plot) plot.setSize({ width: width(), height });
  });
  observer.observe(container);

  function showValues(idx) {
    current.forEach((s, i) => {
      const points = s.points;
      let value = null;
      if (idx !== null && idx !== undefined && plot) value = plot.data[i + 1][idx];
      else if (points.length) value = points[points.length - 1][1];
      items[i].value.textContent = format(value);
    });
  }

  return {
    update(series, { fromS, toS, unit: override }) {
      current = series;
      format = formatter(override === undefined ? unit : override);
      message.hidden = true;
      container.dataset.series = String(series.length);
      if (plot) plot.destroy();
      plot = null;
      items.length = 0;
      if (!series.length) {
        replace(legend);
        message.textContent = "No data in this time range.";
        message.className = "ts-message muted";
        message.hidden = false;
        return;
      }
      const data = align(series);
      // the y-axis labels as drawn, for the reader of the page's markup (the axis is canvas)
      const onTicks = (labels) => { container.dataset.yAxis = labels.join(" | "); };
      plot = new globalThis.uPlot(options(series, width(), height, format, [fromS, toS], (idx) => showValues(idx), onTicks), data, chartEl);
      replace(legend, series.map((s, i) => {
        const swatch = h("span", { class: "swatch", attrs: { "aria-hidden": "true" } });
        swatch.style.background = seriesColor(i);
        const value = h("b", { class: "mono" });
        items.push({ value });
        const group = s.group ? h("span", { class: "ts-group mono", text: s.group, dataset: { testid: "series-query" } }) : null;
        return h("span", { class: "ts-item", dataset: { testid: "series", query: s.group || "" } }, swatch, group, h("span", { class: "ts-label mono", text: s.label, title: s.label }), value);
      }));
      showValues(null);
    },
    showMessage(text, isError = false) {
      if (plot) plot.destroy();
      plot = null;
      current = [];
      replace(legend);
      delete container.dataset.series;
      delete container.dataset.yAxis;
      message.textContent = text;
      message.className = `ts-message ${isError ? "error-text" : "muted"}`;
      message.hidden = false;
    },
    destroy() {
      observer.disconnect();
      if (plot) plot.destroy();
      plot = null;
    },
  };
}

function options(series, width, height, format, xRange, onHover, onTicks) {
  const axisFont = "11px system-ui, -apple-system, 'Segoe UI', sans-serif";
  const grid = { stroke: "#eceff3", width: 1 };
  return {
    width,
    height,
    padding: [8, 12, 0, 0],
    legend: { show: false },
    cursor: { points: { size: 6 }, y: false },
    scales: { x: { time: true, range: () => xRange }, y: { range: (_u, min, max) => yRange(min, max) } },
    axes: [
      { stroke: "#5b6472", grid, ticks: { show: false }, font: axisFont, size: 34 },
      { stroke: "#5b6472", grid, ticks: { show: false }, font: axisFont, size: 64, values: (_u, splits) => {
        const labels = splits.map((v) => format(v));
        onTicks(labels);
        return labels;
      } },
    ],
    series: [
      { value: (_u, v) => (v === null ? "" : formatTime(v * 1000)) },
      ...series.map((s, i) => ({ label: s.label, stroke: seriesColor(i), width: 1.5, spanGaps: false, points: { show: false } })),
    ],
    hooks: { setCursor: [(u) => onHover(u.cursor.idx)] },
  };
}
