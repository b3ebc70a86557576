// The duration-over-time scatter above the trace list (Jaeger's search chart): one dot
// per trace at its start time and duration, sized by its span count, red when a span
// failed; a click (or Enter) on a dot opens the trace.

import { formatTime, h } from "./dom.js";
import { svg } from "./svg.js";
import { formatDuration } from "./tracing.js";

const HEIGHT = 150;
const PAD = { left: 64, right: 14, top: 10, bottom: 24 };

/**
 * @typedef {{traceId: string, startMs: number, durationUs: number, spans: number, error: boolean, label: string}} TracePoint
 */

/**
 * The scatter of some traces.
 * @param {TracePoint[]} points
 * @param {{width: number, onOpen: (traceId: string) => void}} options
 * @returns {HTMLElement}
 */
export function durationScatter(points, { width, onOpen }) {
  const el = h("div", { class: "scatter", dataset: { testid: "scatter", points: String(points.length) } });
  if (!points.length) return el;
  const w = Math.max(320, Math.round(width));
  let t0 = Math.min(...points.map((p) => p.startMs));
  let t1 = Math.max(...points.map((p) => p.startMs));
  const padT = Math.max(1000, (t1 - t0) * 0.04);
  t0 -= padT;
  t1 += padT;
  const maxUs = Math.max(1, ...points.map((p) => p.durationUs)) * 1.1;
  const x = (t) => PAD.left + ((t - t0) / (t1 - t0)) * (w - PAD.left - PAD.right);
  const y = (us) => HEIGHT - PAD.bottom - (us / maxUs) * (HEIGHT - PAD.top - PAD.bottom);

  const chart = svg("svg", {
    class: "scatter-svg", width: w, height: HEIGHT, viewBox: `0 0 ${w} ${HEIGHT}`,
    role: "group", "aria-label": "Trace durations over time: click a dot to open its trace",
  });
  for (const f of [0, 0.5, 1]) {
    const us = (maxUs / 1.1) * f;
    chart.append(
      svg("line", { class: "scatter-grid", x1: PAD.left, x2: w - PAD.right, y1: y(us), y2: y(us) }),
      svg("text", { class: "scatter-axis", x: PAD.left - 6, y: y(us) + 4, "text-anchor": "end" }, f === 0 ? "0" : formatDuration(us)));
  }
  for (let i = 0; i <= 4; i++) {
    const t = t0 + ((t1 - t0) * i) / 4;
    const anchor = i === 0 ? "start" : i === 4 ? "end" : "middle";
    chart.append(svg("text", { class: "scatter-axis", x: x(t), y: HEIGHT - 6, "text-anchor": anchor }, formatTime(t).slice(11, 19)));
  }
  // the largest first, so small dots stay clickable on top of them
  for (const p of points.slice().sort((a, b) => b.spans - a.spans)) {
    const text = `${p.label} · ${formatDuration(p.durationUs)} · ${p.spans} span${p.spans === 1 ? "" : "s"} · ${formatTime(p.startMs)}`;
    const dot = svg("circle", {
      class: `scatter-dot${p.error ? " error" : ""}`, cx: x(p.startMs).toFixed(1), cy: y(p.durationUs).toFixed(1),
      r: Math.min(9, 3 + Math.sqrt(p.spans)).toFixed(1), tabindex: 0, role: "link", "aria-label": text,
      "data-trace-id": p.traceId,
    }, svg("title", {}, text));
    dot.addEventListener("click", () => onOpen(p.traceId));
    dot.addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === " ") {
        e.preventDefault();
        onOpen(p.traceId);
      }
    });
    chart.append(dot);
  }
  el.append(chart);
  return el;
}
