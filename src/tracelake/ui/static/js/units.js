// Y-axis units from a PromQL expression, as Prometheus names metrics: `_seconds` are
// durations, `_bytes` sizes (IEC: KiB, MiB), and counters (`_total`, `_count`, `_sum`,
// `_bucket`) under rate()/irate()/increase-per-second are per second.

import { formatValue } from "./timeseries.js";

const METRIC_RE = /[A-Za-z_:][A-Za-z0-9_:]*/g;
const COUNTER_SUFFIX = /_(total|count|sum|bucket)$/;

/**
 * The unit of what an expression returns: `seconds`, `bytes`, or `""`, and whether it is
 * per second.
 * @param {string} expr
 * @returns {{base: "seconds"|"bytes"|"", perSecond: boolean}}
 */
export function unitOf(expr) {
  const text = String(expr || "").replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, "");
  const names = (text.match(METRIC_RE) || []).filter((n) => /_(seconds|bytes|total|count|sum|bucket)$/.test(n) || /_(seconds|bytes)_/.test(n));
  const name = names[0] || "";
  const stem = name.replace(COUNTER_SUFFIX, "");
  const base = /_seconds$/.test(stem) ? "seconds" : /_bytes$/.test(stem) ? "bytes" : "";
  const rated = /\b(rate|irate)\s*\(/.test(text);
  // a quantile of a histogram, or sum over count, is a value of the base unit again
  const averaged = /\bhistogram_quantile\s*\(/.test(text) || (/_sum\b/.test(text) && /_count\b/.test(text) && text.includes("/"));
  const perSecond = rated && !averaged && COUNTER_SUFFIX.test(name);
  return { base: perSecond && /_count$/.test(name) ? "" : base, perSecond };
}

/**
 * A value in its unit: `1.5 ms`, `2.3 s`, `12 MiB`, `4.2/s`, `1.2 KiB/s`.
 * @param {number|null} v
 * @param {{base: string, perSecond: boolean}} unit
 * @returns {string}
 */
export function formatUnit(v, unit) {
  if (v === null || v === undefined || !Number.isFinite(v)) return "–";
  const suffix = unit.perSecond ? "/s" : "";
  if (unit.base === "seconds") return `${formatSeconds(v)}${suffix}`;
  if (unit.base === "bytes") return `${formatBytes(v)}${suffix}`;
  return `${formatValue(v)}${suffix}`;
}

/**
 * A duration in seconds for humans: `850 µs`, `12.5 ms`, `3 s`, `2.5 min`, `1.2 h`.
 * @param {number} s
 * @returns {string}
 */
export function formatSeconds(s) {
  const a = Math.abs(s);
  const p = (x) => String(+x.toPrecision(3));
  if (a === 0) return "0 s";
  if (a < 1e-6) return `${p(s * 1e9)} ns`;
  if (a < 1e-3) return `${p(s * 1e6)} µs`;
  if (a < 1) return `${p(s * 1e3)} ms`;
  if (a < 60) return `${p(s)} s`;
  if (a < 3600) return `${p(s / 60)} min`;
  if (a < 86400) return `${p(s / 3600)} h`;
  return `${p(s / 86400)} d`;
}

/**
 * Bytes with IEC prefixes: `512 B`, `1.5 KiB`, `12 MiB`, `3.1 GiB`.
 * @param {number} b
 * @returns {string}
 */
export function formatBytes(b) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let v = b;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${+v.toPrecision(3)} ${units[i]}`;
}
