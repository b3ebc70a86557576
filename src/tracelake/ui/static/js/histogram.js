// The log volume histogram: stacked bars per level over time (uPlot, vendored).
// Dragging across it selects a time range and calls `onSelect` (the page zooms to it).

import { formatCount, formatTime, h, replace } from "./dom.js";

/** Levels bottom to top of a stack; unknown levels go on top as "other". */
export const LEVEL_ORDER = ["FATAL", "ERROR", "WARN", "INFO", "DEBUG", "TRACE"];
const COLORS = {
  FATAL: "#8e44c9", ERROR: "#e0534a", WARN: "#e8a33d", INFO: "#4f9f86",
  DEBUG: "#79a1e0", TRACE: "#b7bec8", other: "#98a2ae",
};

/**
 * Turn `stats count() by bin(N), level` rows into aligned buckets.
 * Missing buckets are zero; the bucket phase is taken from the server's bins.
 * @param {{columns: string[], rows: object[]}} result
 * @param {number} fromMs
 * @param {number} toMs
 * @param {number} binMs
 * @returns {{starts: number[], levels: string[], counts: Record<string, number[]>, total: number}}
 */
export function bucketize(result, fromMs, toMs, binMs) {
  const [binCol, levelCol, countCol] = result.columns;
  const rows = result.rows.map((r) => ({ t: Date.parse(r[binCol]), level: levelName(r[levelCol]), n: Number(r[countCol]) || 0 }));
  const phase = rows.length ? (((rows[0].t % binMs) + binMs) % binMs) : 0;
  let first = Math.floor((fromMs - phase) / binMs) * binMs + phase;
  for (const r of rows) first = Math.min(first, r.t);
  let last = Math.max(toMs - 1, first);
  for (const r of rows) last = Math.max(last, r.t);
  const starts = [];
  for (let t = first; t <= last && starts.length < 5000; t += binMs) starts.push(t);
  const seen = new Set(rows.map((r) => r.level));
  const levels = [...LEVEL_ORDER.filter((l) => seen.has(l)), ...[...seen].filter((l) => !LEVEL_ORDER.includes(l)).sort()];
  const counts = Object.fromEntries(levels.map((l) => [l, new Array(starts.length).fill(0)]));
  let total = 0;
  for (const r of rows) {
    const i = Math.round((r.t - first) / binMs);
    if (i >= 0 && i < starts.length) counts[r.level][i] += r.n;
    total += r.n;
  }
  return { starts, levels, counts, total };
}

function levelName(value) {
  if (value === null || value === undefined || value === "") return "(none)";
  return String(value);
}

/**
 * Colour of a level in the chart.
 * @param {string} level
 * @returns {string}
 */
export function levelColor(level) {
  return COLORS[level] || COLORS.other;
}

/**
 * Create the histogram in `container`.
 * @param {HTMLElement} container
 * @param {{onSelect: (fromMs: number, toMs: number) => void}} options
 * @returns {{update: (result: object, fromMs: number, toMs: number, binMs: number, binLabel: string) => void,
 *            showError: (message: string) => void, destroy: () => void}}
 */
export function histogram(container, { onSelect }) {
  const chartEl = h("div", { class: "hist-chart" });
  const legend = h("div", { class: "hist-legend", attrs: { "aria-live": "polite" } });
  replace(container, legend, chartEl);
  let plot = null;
  let data = null;
  let binLabel = "";

  const width = () => Math.max(200, chartEl.clientWidth || container.clientWidth || 800);
  const observer = new ResizeObserver(() => {
    if (plot) plot.setSize({ width: width(), height: plot.height });
  });
  observer.observe(container);

  const showTotals = () => {
    if (!data) return;
    replace(legend,
      h("span", { class: "hist-caption", text: `${formatCount(data.total)} log${data.total === 1 ? "" : "s"} · ${binLabel} buckets` }),
      data.levels.map((l) => legendItem(l, data.counts[l].reduce((a, b) => a + b, 0))),
      h("span", { class: "hist-hint", text: "drag to zoom" }),
    );
  };
  const showBucket = (i) => {
    if (!data || i === null || i === undefined || i < 0) return showTotals();
    const t = data.starts[i];
    replace(legend,
      h("span", { class: "hist-caption", text: formatTime(t).slice(0, 19) }),
      data.levels.map((l) => legendItem(l, data.counts[l][i])),
    );
  };

  return {
    update(result, fromMs, toMs, binMs, label) {
      data = bucketize(result, fromMs, toMs, binMs);
      binLabel = label;
      container.dataset.total = String(data.total);
      container.dataset.buckets = String(data.starts.length);
      if (plot) plot.destroy();
      plot = makePlot(chartEl, data, binMs, width(), {
        onSelect,
        onHover: showBucket,
        xRange: [Math.min(fromMs, data.starts[0] ?? fromMs) / 1000, Math.max(toMs, (data.starts.at(-1) ?? toMs) + binMs) / 1000],
      });
      showTotals();
    },
    showError(message) {
      if (plot) plot.destroy();
      plot = null;
      data = null;
      delete container.dataset.total;
      replace(legend, h("span", { class: "hist-error", text: message }));
    },
    destroy() {
      observer.disconnect();
      if (plot) plot.destroy();
      plot = null;
    },
  };
}

function legendItem(level, count) {
  const swatch = h("span", { class: "swatch", attrs: { "aria-hidden": "true" } });
  swatch.style.background = levelColor(level);
  return h("span", { class: "hist-item" }, swatch, h("span", { text: level }), h("b", { text: formatCount(count) }));
}

function makePlot(el, data, binMs, width, { onSelect, onHover, xRange }) {
  const uPlot = globalThis.uPlot;
  const xs = data.starts.map((t) => (t + binMs / 2) / 1000);
  // Stack: series k carries levels 0..k summed; draw the tallest first so the lower
  // levels paint over it.
  const cumulative = [];
  let running = new Array(xs.length).fill(0);
  for (const level of data.levels) {
    running = running.map((v, i) => v + data.counts[level][i]);
    cumulative.push(running);
  }
  const order = data.levels.map((_, i) => i).reverse();
  const bars = uPlot.paths.bars({ size: [0.86, 64], gap: 1 });
  const axisFont = "11px system-ui, -apple-system, 'Segoe UI', sans-serif";
  const grid = { stroke: "#eceff3", width: 1 };
  const opts = {
    width,
    height: 128,
    padding: [6, 8, 0, 0],
    legend: { show: false },
    cursor: { drag: { x: true, y: false, setScale: false }, points: { show: false }, y: false },
    select: { show: true },
    scales: {
      x: { time: true, range: () => xRange },
      y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.08)] },
    },
    axes: [
      { stroke: "#5b6472", grid, ticks: { show: false }, font: axisFont, size: 36 },
      {
        stroke: "#5b6472", grid, ticks: { show: false }, font: axisFont, size: 44,
        values: (_u, splits) => splits.map((v) => (Number.isInteger(v) ? compact(v) : "")),
      },
    ],
    series: [
      {},
      ...order.map((k) => ({
        label: data.levels[k],
        fill: levelColor(data.levels[k]),
        stroke: levelColor(data.levels[k]),
        width: 0,
        paths: bars,
        points: { show: false },
      })),
    ],
    hooks: {
      setSelect: [
        (u) => {
          if (u.select.width > 3) {
            const a = u.posToVal(u.select.left, "x") * 1000;
            const b = u.posToVal(u.select.left + u.select.width, "x") * 1000;
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            onSelect(Math.floor(a), Math.ceil(b));
          }
        },
      ],
      setCursor: [(u) => onHover(u.cursor.idx)],
    },
  };
  return new uPlot(opts, [xs, ...order.map((k) => cumulative[k])], el);
}

function compact(n) {
  if (n >= 1e6) return `${+(n / 1e6).toFixed(1)}M`;
  if (n >= 1e4) return `${+(n / 1e3).toFixed(0)}k`;
  if (n >= 1e3) return `${+(n / 1e3).toFixed(1)}k`;
  return String(n);
}
