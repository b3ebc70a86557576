// Service map (`#/service-map` or `#/map`, `?from=&to=&refresh=10s`): the dependency links of
// the time range as an SVG graph laid out in layers by call direction, with call counts and
// error ratios on the edges and RED figures (rate, errors, p95) on the services. Each edge's
// label sits by its curve's midpoint, on a background, clear of the curve; `refresh`
// redraws the map on an interval.

import { getJSON } from "../api.js";
import { coveredText, formatCount, h, replace } from "../dom.js";
import { autoRefresh } from "../refresh.js";
import { navigate } from "../router.js";
import { svg } from "../svg.js";
import { resolveRange, timeRangePicker } from "../timerange.js";
import { formatValue } from "../timeseries.js";
import { formatDuration, serviceColor, zipkin } from "../tracing.js";

const NODE_W = 190;
const NODE_H = 66;
const COL_GAP = 170;
const ROW_GAP = 34;
const PAD = 24;

/**
 * Mount the Service map page.
 * @param {HTMLElement} root
 * @param {import("../router.js").Route} route
 * @returns {{update: (route: import("../router.js").Route) => void, unmount: () => void}}
 */
export function mount(root, route) {
  let controller = null;
  const read = (r) => ({ from: r.params.get("from") || "", to: r.params.get("to") || "", refresh: r.params.get("refresh") || "" });
  let state = read(route);
  const go = (changes) => navigate("service-map", { ...state, ...changes });
  const picker = timeRangePicker({ from: state.from, to: state.to, onChange: go });
  const refresher = autoRefresh({ value: state.refresh, onChange: (refresh) => go({ refresh }), tick: () => load() });
  const summary = h("div", { class: "results-summary", dataset: { testid: "summary" } });
  const errorBox = h("div", { class: "query-error", hidden: true, attrs: { role: "alert" } });
  const graphEl = h("div", { class: "map-graph", dataset: { testid: "map" } });
  const edgesEl = h("div", { class: "map-edges" });
  replace(root, h("div", { class: "map-page" },
    h("div", { class: "toolbar" },
      h("h1", { class: "page-title", text: "Service map" }),
      h("span", { class: "toolbar-spacer" }),
      picker.el,
      h("button", { type: "button", class: "btn", text: "Refresh", onclick: () => load() }),
      refresher.el),
    errorBox,
    h("section", { class: "panel map-panel", attrs: { "aria-label": "Service dependency graph" } },
      h("div", { class: "results-head" }, summary,
        h("span", { class: "hist-hint", text: "Click a service to see its traces" })),
      graphEl),
    edgesEl));

  const load = () => {
    if (controller) controller.abort();
    controller = new AbortController();
    const { signal } = controller;
    const { fromMs, toMs } = resolveRange(state.from, state.to);
    errorBox.hidden = true;
    graphEl.classList.add("loading");
    summary.textContent = "Loading…";
    Promise.all([
      zipkin("dependencies", { endTs: Math.round(toMs), lookback: Math.max(1, Math.round(toMs - fromMs)) }, signal),
      getJSON("/api/v1/traces/red", { from: new Date(fromMs).toISOString(), to: new Date(toMs).toISOString() }, signal),
    ]).then(([links, red]) => {
      graphEl.classList.remove("loading");
      const stats = new Map();
      for (const row of red.rows || []) if (row.operation === null) stats.set(row.service, row);
      const services = new Set([...stats.keys()]);
      for (const l of links) services.add(l.parent).add(l.child);
      const over = red.covered && stats.size ? ` · rates ${coveredText(red.covered)} (the time with spans)` : "";
      summary.textContent = `${formatCount(services.size)} service${services.size === 1 ? "" : "s"} · ${formatCount(links.length)} link${links.length === 1 ? "" : "s"}${over}`;
      if (!services.size) {
        replace(graphEl, h("div", { class: "note muted empty-note", text: "No spans in this time range: services and their calls appear here once traces arrive." }));
        replace(edgesEl);
        return;
      }
      const onNode = (service) => navigate("traces", { service, from: state.from, to: state.to });
      replace(graphEl, drawGraph([...services], links, stats, onNode));
      fitLabelBackgrounds(graphEl);
      graphEl.dataset.loadedAt = String(Date.now());
      replace(edgesEl, edgeTable(links));
    }).catch((error) => {
      if (error.name === "AbortError") return;
      graphEl.classList.remove("loading");
      summary.textContent = "";
      errorBox.textContent = error.message;
      errorBox.hidden = false;
    });
  };
  load();
  return {
    update(r) {
      state = read(r);
      picker.set(state.from, state.to);
      refresher.set(state.refresh);
      load();
    },
    unmount: () => {
      refresher.stop();
      if (controller) controller.abort();
    },
  };
}

/**
 * Layers by call direction: a service sits one column right of the furthest caller
 * (longest path from the services nobody calls; edges closing a cycle are ignored).
 * @param {string[]} services
 * @param {Array<{parent: string, child: string}>} links
 * @returns {Map<string, number>}
 */
export function layers(services, links) {
  const out = new Map();
  const calls = new Map(services.map((s) => [s, []]));
  for (const l of links) if (l.parent !== l.child) calls.get(l.parent).push(l.child);
  // depth-first search marks the edges that close a cycle
  const back = new Set();
  const state = new Map();
  const visit = (s) => {
    state.set(s, 1);
    for (const c of calls.get(s)) {
      if (state.get(c) === 1) back.add(`${s}\u0000${c}`);
      else if (!state.has(c)) visit(c);
    }
    state.set(s, 2);
  };
  const called = new Set(links.filter((l) => l.parent !== l.child).map((l) => l.child));
  for (const s of [...services].sort((a, b) => Number(called.has(a)) - Number(called.has(b)) || a.localeCompare(b))) {
    if (!state.has(s)) visit(s);
  }
  for (const s of services) out.set(s, 0);
  for (let round = 0; round < services.length; round++) {
    let changed = false;
    for (const [p, cs] of calls) {
      for (const c of cs) {
        if (back.has(`${p}\u0000${c}`)) continue;
        if (out.get(c) < out.get(p) + 1) {
          out.set(c, out.get(p) + 1);
          changed = true;
        }
      }
    }
    if (!changed) break;
  }
  return out;
}

/**
 * @param {string[]} services
 * @param {Array<{parent: string, child: string, callCount: number, errorCount?: number}>} links
 * @param {Map<string, any>} stats RED row per service
 * @param {(service: string) => void} onNode
 * @returns {SVGElement}
 */
function drawGraph(services, links, stats, onNode) {
  const layer = layers(services, links);
  const columns = [];
  for (const s of services) {
    const i = layer.get(s);
    (columns[i] ||= []).push(s);
  }
  // order each column by the mean row of its callers, to keep edges short
  const row = new Map();
  columns.forEach((col, i) => {
    const key = (s) => {
      const parents = links.filter((l) => l.child === s && row.has(l.parent) && layer.get(l.parent) < i).map((l) => row.get(l.parent));
      return parents.length ? parents.reduce((a, b) => a + b, 0) / parents.length : Infinity;
    };
    col.sort((a, b) => key(a) - key(b) || a.localeCompare(b));
    col.forEach((s, j) => row.set(s, j));
  });
  const tallest = Math.max(...columns.map((c) => (c ? c.length : 0)));
  const height = PAD * 2 + tallest * NODE_H + (tallest - 1) * ROW_GAP;
  // room above the nodes for calls of a service to itself, below them for calls backwards
  const loopRoom = links.some((l) => l.parent === l.child) ? 40 : 0;
  const backRoom = links.some((l) => l.parent !== l.child && layer.get(l.child) <= layer.get(l.parent)) ? 44 : 0;
  const bottom = loopRoom + height - PAD + 28;
  const svgHeight = loopRoom + height + backRoom;
  const width = PAD * 2 + columns.length * NODE_W + (columns.length - 1) * COL_GAP;
  const pos = new Map();
  columns.forEach((col, i) => {
    const colHeight = col.length * NODE_H + (col.length - 1) * ROW_GAP;
    const top = loopRoom + (height - colHeight) / 2;
    col.forEach((s, j) => pos.set(s, { x: PAD + i * (NODE_W + COL_GAP), y: top + j * (NODE_H + ROW_GAP) }));
  });

  const root = svg("svg", {
    class: "map-svg", width, height: svgHeight, viewBox: `0 0 ${width} ${svgHeight}`, role: "img",
    "aria-label": `Service map: ${services.length} services`,
  });
  const defs = svg("defs");
  for (const [id, cls] of [["map-arrow", "map-arrow"], ["map-arrow-error", "map-arrow error"]]) {
    const marker = svg("marker", { id, viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 9, markerHeight: 9, markerUnits: "userSpaceOnUse", orient: "auto" });
    marker.append(svg("path", { d: "M0,0 L10,5 L0,10 z", class: cls }));
    defs.append(marker);
  }
  root.append(defs);

  const maxCalls = Math.max(1, ...links.map((l) => l.callCount));
  const edgeLayer = svg("g", { class: "map-edges-layer" });
  const labelLayer = svg("g", { class: "map-labels-layer" });
  const placed = [];
  const pending = [];
  for (const l of links) {
    const a = pos.get(l.parent);
    const b = pos.get(l.child);
    const errors = l.errorCount || 0;
    const ratio = l.callCount ? errors / l.callCount : 0;
    const g = svg("g", { class: `map-edge${errors ? " error" : ""}`, "data-parent": l.parent, "data-child": l.child });
    let d;
    let mid;
    let curve;
    let below = false;
    if (l.parent === l.child) {
      const x = a.x + NODE_W / 2;
      curve = [x - 20, a.y, x - 40, a.y - 46, x + 40, a.y - 46, x + 20, a.y];
      d = `M${x - 20},${a.y} C${x - 40},${a.y - 46} ${x + 40},${a.y - 46} ${x + 20},${a.y}`;
      mid = { x, y: a.y - 40 };
    } else if (b.x > a.x) {
      const x1 = a.x + NODE_W;
      const y1 = a.y + NODE_H / 2;
      const x2 = b.x;
      const y2 = b.y + NODE_H / 2;
      const dx = (x2 - x1) / 2;
      curve = [x1, y1, x1 + dx, y1, x2 - dx, y2, x2, y2];
      d = `M${x1},${y1} C${x1 + dx},${y1} ${x2 - dx},${y2} ${x2},${y2}`;
      // an edge over several columns is labelled in the gap before its callee, where
      // the labels of the edges it passes are not
      mid = x2 - x1 > COL_GAP + 1 ? { x: x2 - COL_GAP / 2 } : { x: (x1 + x2) / 2 };
    } else {
      // a call back to an earlier column (a cycle) or within one: around, below every node
      const x1 = a.x + NODE_W / 2;
      const y1 = a.y + NODE_H;
      const x2 = b.x + NODE_W / 2 + (b.x === a.x ? 30 : 0);
      const y2 = b.y + NODE_H;
      const low = (8 * bottom - y1 - y2) / 6; // puts the curve's lowest point at `bottom`
      curve = [x1, y1, x1, low, x2, low, x2, y2];
      d = `M${x1},${y1} C${x1},${low} ${x2},${low} ${x2},${y2}`;
      mid = { x: (x1 + x2) / 2 };
      below = true; // the curve dips under every node: its label goes under the dip
    }
    const stroke = 1.2 + 3 * Math.log1p(l.callCount) / Math.log1p(maxCalls);
    g.append(svg("path", { d, class: "map-edge-line", "stroke-width": stroke.toFixed(2), "marker-end": `url(#${errors ? "map-arrow-error" : "map-arrow"})` }));
    g.append(svg("title", {}, `${l.parent} → ${l.child}: ${l.callCount} calls, ${errors} errors`));
    edgeLayer.append(g);
    const text = `${formatCount(l.callCount)} call${l.callCount === 1 ? "" : "s"}${errors ? ` · ${pctText(ratio)} err` : ""}`;
    pending.push({ l, curve, below, x: mid.x, text, cls: errors ? " error" : "" });
  }
  // labels once every curve is known: a label may not sit on any of them
  const curves = pending.map((p) => bezierPoints(p.curve, 96));
  for (const { l, curve, below, x, text, cls } of pending) {
    const w = text.length * 6.6;
    const y = freeSpot(placed, curves, x, labelBaseline(curve, x, w, below), w, below ? 1 : -1);
    labelLayer.append(svg("rect", { class: `map-edge-label-bg${cls}`, x: x - w / 2 - 3, y: y - LABEL_ASCENT - 2, width: w + 6, height: LABEL_H + 4, rx: 3, "data-parent": l.parent, "data-child": l.child }));
    labelLayer.append(svg("text", { x, y, class: `map-edge-label${cls}`, "text-anchor": "middle", "data-parent": l.parent, "data-child": l.child }, text));
  }
  root.append(edgeLayer);

  for (const s of services) {
    const { x, y } = pos.get(s);
    const st = stats.get(s);
    const errRatio = st ? st.error_ratio : 0;
    const g = svg("g", {
      class: `map-node${errRatio > 0 ? " error" : ""}${st ? "" : " passive"}`, "data-service": s,
      transform: `translate(${x},${y})`, tabindex: 0, role: "link", "aria-label": `Traces of ${s}`,
    });
    g.append(svg("rect", { class: "map-node-box", width: NODE_W, height: NODE_H, rx: 7 }));
    const stripe = svg("rect", { class: "map-node-stripe", width: 5, height: NODE_H - 2, x: 1, y: 1, rx: 2 });
    stripe.setAttribute("fill", serviceColor(s));
    g.append(stripe);
    g.append(svg("text", { x: 14, y: 21, class: "map-node-name" }, clip(s, 22)));
    if (st) {
      g.append(svg("text", { x: 14, y: 39, class: "map-node-red rate" }, `${rateText(st.rate_per_s)} · ${pctText(st.error_ratio)} err`));
      g.append(svg("text", { x: 14, y: 55, class: "map-node-red" },
        `p95 ${st.latency_ms && st.latency_ms.p95 !== null ? formatDuration(st.latency_ms.p95 * 1000) : "–"} · ${formatCount(st.requests)} req`));
    } else {
      g.append(svg("text", { x: 14, y: 41, class: "map-node-red muted" }, "no spans of its own"));
    }
    g.append(svg("title", {}, st
      ? `${s}: ${formatCount(st.requests)} requests, ${formatValue(st.rate_per_s, "req/s")}, ${formatCount(st.errors)} errors, p50 ${st.latency_ms.p50} ms, p95 ${st.latency_ms.p95} ms, p99 ${st.latency_ms.p99} ms`
      : `${s}: called, but sends no spans`));
    g.addEventListener("click", () => onNode(s));
    g.addEventListener("keydown", (e) => {
      if (e.key === "Enter") onNode(s);
    });
    root.append(g);
  }
  root.append(labelLayer);
  return root;
}

/**
 * The links as a table too: exact figures, and readable without the picture.
 * @param {Array<{parent: string, child: string, callCount: number, errorCount?: number}>} links
 * @returns {HTMLElement|null}
 */
function edgeTable(links) {
  if (!links.length) return null;
  const sorted = links.slice().sort((a, b) => b.callCount - a.callCount);
  return h("section", { class: "panel map-edge-table" },
    h("table", { class: "data-table" },
      h("thead", {}, h("tr", {}, ["Caller", "Callee", "Calls", "Errors", "Error ratio"].map((t, i) => h("th", { scope: "col", class: i > 1 ? "num" : "", text: t })))),
      h("tbody", {}, sorted.map((l) => h("tr", { dataset: { parent: l.parent, child: l.child } },
        h("td", { class: "mono", text: l.parent }), h("td", { class: "mono", text: l.child }),
        h("td", { class: "num", text: formatCount(l.callCount) }),
        h("td", { class: `num${l.errorCount ? " error-text" : ""}`, text: formatCount(l.errorCount || 0) }),
        h("td", { class: "num", text: pctText(l.callCount ? (l.errorCount || 0) / l.callCount : 0) }))))));
}

/** A label's height above its baseline, and its whole height (11.5px text). */
const LABEL_ASCENT = 11;
const LABEL_H = 14;
/** Room between a label's box and its curve. */
const LABEL_GAP = 4;

/**
 * Points along a cubic Bézier curve `[x1, y1, c1x, c1y, c2x, c2y, x2, y2]`.
 * @param {number[]} c
 * @param {number} [n] segments
 * @returns {Array<[number, number]>}
 */
export function bezierPoints(c, n = 64) {
  const out = [];
  for (let i = 0; i <= n; i++) {
    const t = i / n;
    const u = 1 - t;
    const k = [u * u * u, 3 * u * u * t, 3 * u * t * t, t * t * t];
    out.push([k[0] * c[0] + k[1] * c[2] + k[2] * c[4] + k[3] * c[6], k[0] * c[1] + k[1] * c[3] + k[2] * c[5] + k[3] * c[7]]);
  }
  return out;
}

/**
 * The baseline of a label centred at `x`, `w` wide, just clear of the curve: above the
 * curve's highest point under the label (or, `below`, under its lowest), so a steep
 * curve never runs through the text and a flat one keeps its label close.
 * @param {number[]} curve
 * @param {number} x
 * @param {number} w
 * @param {boolean} below
 * @returns {number}
 */
export function labelBaseline(curve, x, w, below) {
  const points = bezierPoints(curve);
  const half = w / 2 + 3;
  const under = points.filter(([px]) => Math.abs(px - x) <= half);
  const near = under.length ? under : [points.reduce((best, p) => (Math.abs(p[0] - x) < Math.abs(best[0] - x) ? p : best))];
  if (below) return Math.max(...near.map(([, py]) => py)) + LABEL_GAP + LABEL_ASCENT + 2;
  return Math.min(...near.map(([, py]) => py)) - LABEL_GAP - (LABEL_H - LABEL_ASCENT) - 2;
}

/**
 * The y of a label near `y` whose box overlaps neither a label placed before nor any
 * curve (then placed): the nearest such spot, a few pixels at a time, first on the side
 * `away` from its own curve (-1: up, 1: down).
 * @param {Array<{x: number, y: number, w: number}>} placed
 * @param {Array<Array<[number, number]>>} curves points of every edge
 * @param {number} x centre
 * @param {number} y baseline
 * @param {number} w width
 * @param {number} away
 * @returns {number}
 */
function freeSpot(placed, curves, x, y, w, away) {
  const onCurve = (ty) => curves.some((points) => points.some(([px, py]) =>
    Math.abs(px - x) <= w / 2 + 4 && py >= ty - LABEL_ASCENT - 3 && py <= ty + LABEL_H - LABEL_ASCENT + 3));
  const clash = (ty) => onCurve(ty) || placed.some((p) => Math.abs(p.x - x) < (p.w + w) / 2 + 8 && Math.abs(p.y - ty) < LABEL_H + 6);
  for (let step = 0; step < 80; step++) {
    // nearest first: away from its curve, then past it (the curve check keeps it clear)
    const ty = y + (step % 2 ? -away : away) * Math.ceil(step / 2) * 4;
    if (!clash(ty)) {
      placed.push({ x, y: ty, w });
      return ty;
    }
  }
  placed.push({ x, y, w });
  return y;
}

/** Size each label's background to its text as drawn (the font decides the width). */
function fitLabelBackgrounds(container) {
  for (const text of container.querySelectorAll("text.map-edge-label")) {
    const bg = text.previousElementSibling;
    if (!bg || !bg.classList.contains("map-edge-label-bg")) continue;
    const box = text.getBBox();
    if (!box.width) continue;
    bg.setAttribute("x", String(box.x - 4));
    bg.setAttribute("width", String(box.width + 8));
  }
}

const clip = (text, n) => (text.length > n ? `${text.slice(0, n - 1)}…` : text);

/** @param {number} ratio @returns {string} */
function pctText(ratio) {
  const p = ratio * 100;
  return `${p === 0 || p >= 10 ? Math.round(p) : p.toFixed(1)}%`;
}

/** Requests per second, as the Metrics page's RED figures and charts show them. */
function rateText(perS) {
  return formatValue(perS, "req/s");
}
