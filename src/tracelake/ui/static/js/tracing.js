// Shared by the Traces and Service map pages: the Zipkin v2 query API, span trees,
// durations and service colours.

import { ApiError } from "./api.js";

/**
 * `GET /api/v2/<path>` as JSON. Zipkin answers errors in plain text, which becomes the
 * ApiError's message.
 * @param {string} path e.g. `traces`, `trace/<id>`
 * @param {Record<string, string|number|undefined|null>} [params] empty values are left out
 * @param {AbortSignal} [signal]
 * @returns {Promise<any>}
 */
export async function zipkin(path, params = {}, signal) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") query.set(key, String(value));
  }
  const qs = query.toString();
  let response;
  try {
    response = await fetch(`/api/v2/${path}${qs ? `?${qs}` : ""}`, { headers: { Accept: "application/json" }, signal });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(`cannot reach the server: ${error.message}`, 0);
  }
  const text = await response.text();
  if (!response.ok) throw new ApiError(text.trim() || `${response.status} ${response.statusText}`, response.status);
  return text ? JSON.parse(text) : null;
}

/**
 * A duration in microseconds as short text: `840 µs`, `12.5 ms`, `3.21 s`, `2m 5s`.
 * @param {number|null|undefined} us
 * @returns {string}
 */
export function formatDuration(us) {
  if (us === null || us === undefined || Number.isNaN(us)) return "";
  if (us < 1000) return `${Math.round(us)} µs`;
  const ms = us / 1000;
  if (ms < 1000) return `${ms < 10 ? ms.toFixed(2) : ms < 100 ? ms.toFixed(1) : Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s < 10 ? s.toFixed(2) : s.toFixed(1)} s`;
  return `${Math.floor(s / 60)}m ${Math.round(s % 60)}s`;
}

/**
 * Read a duration typed by a person (`150ms`, `1.5s`, `200us`, `2m`; a bare number is
 * milliseconds) as microseconds.
 * @param {string|null|undefined} text
 * @returns {number|null} null for empty or unreadable text
 */
export function parseDuration(text) {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(us|µs|ms|s|m)?\s*$/i.exec(text || "");
  if (!m) return null;
  const factor = { us: 1, "µs": 1, ms: 1000, s: 1_000_000, m: 60_000_000 }[(m[2] || "ms").toLowerCase()];
  return Math.round(Number(m[1]) * factor);
}

// Distinguishable, readable on white, none of them the error red.
const PALETTE = [
  "#3b73d9", "#1a9a7b", "#8a5cd1", "#d08a1c", "#2b9bc2", "#b8558f",
  "#5b8c2a", "#6b6fd8", "#a0703a", "#3f8f8f", "#c0608a", "#707b8c",
];

/**
 * A stable colour for a service name (the same on every page and every load).
 * @param {string} service
 * @returns {string} CSS colour
 */
export function serviceColor(service) {
  let hash = 0;
  for (const ch of String(service || "")) hash = (hash * 31 + ch.codePointAt(0)) >>> 0;
  return PALETTE[hash % PALETTE.length];
}

/** @param {any} span @returns {string} */
export const spanService = (span) => (span.localEndpoint && span.localEndpoint.serviceName) || "unknown";

/** @param {any} span @returns {boolean} */
export const isError = (span) => Boolean(span.tags && Object.prototype.hasOwnProperty.call(span.tags, "error"));

/**
 * The service each outgoing span (CLIENT or PRODUCER) called: the remote endpoint's
 * service (Zipkin `remoteEndpoint.serviceName`, OpenTelemetry `peer.service`), or else the
 * service of the span that answered it (a SERVER or CONSUMER child, or the shared server
 * half with the same id), as a user's services seldom name whom they call.
 * @param {any[]} spans
 * @returns {Map<any, string>} span → called service (outgoing spans that name or reach one)
 */
export function calledServices(spans) {
  const answers = new Map();
  for (const s of spans) {
    if (s.kind !== "SERVER" && s.kind !== "CONSUMER") continue;
    for (const id of [s.parentId, s.shared ? s.id : null]) {
      if (id && !answers.has(id)) answers.set(id, spanService(s));
    }
  }
  const out = new Map();
  for (const s of spans) {
    if (s.kind !== "CLIENT" && s.kind !== "PRODUCER") continue;
    const called = (s.remoteEndpoint && s.remoteEndpoint.serviceName) || answers.get(s.id);
    if (called) out.set(s, called);
  }
  return out;
}

/**
 * Summary of one trace (a list of Zipkin v2 spans).
 * @param {any[]} spans
 * `root` is the span with no parent; when that span has not arrived (a trace still in
 * flight, whose root is reported when its request ends, or one whose root was lost) it
 * is the earliest span whose parent is missing, and `missingRoot` says so, as Jaeger
 * marks such traces, so a child is never presented as the trace's root.
 * @returns {{traceId: string, root: any, missingRoot: boolean, start: number, end: number, duration: number, spans: number, services: string[], errors: number}}
 */
export function summarize(spans) {
  const ids = new Set(spans.map((s) => s.id));
  const roots = spans.filter((s) => !s.parentId || !ids.has(s.parentId));
  const byStart = (a, b) => (a.timestamp || 0) - (b.timestamp || 0);
  const root = (roots.length ? roots : spans).slice().sort((a, b) => (a.parentId ? 1 : 0) - (b.parentId ? 1 : 0) || byStart(a, b))[0];
  let start = Infinity;
  let end = -Infinity;
  for (const s of spans) {
    if (!s.timestamp) continue;
    start = Math.min(start, s.timestamp);
    end = Math.max(end, s.timestamp + (s.duration || 0));
  }
  if (!Number.isFinite(start)) start = end = 0;
  return {
    traceId: root ? root.traceId : "",
    root,
    missingRoot: Boolean(root && root.parentId),
    start,
    end,
    duration: end - start,
    spans: spans.length,
    services: [...new Set(spans.map(spanService))],
    errors: spans.filter(isError).length,
  };
}

/**
 * The spans of a trace in waterfall order (depth first, children by start time), each
 * with its depth. A span whose parent is not in the trace starts a tree of its own
 * (`orphan`); B3 shared server spans (same id as their client) hang under the client.
 * @param {any[]} spans
 * @returns {Array<{span: any, depth: number, orphan: boolean, children: number}>}
 */
export function spanTree(spans) {
  const key = (s, i) => `${s.id}#${i}`;
  const byId = new Map();
  spans.forEach((s, i) => {
    const list = byId.get(s.id) || [];
    list.push(key(s, i));
    byId.set(s.id, list);
  });
  const parentKey = new Map();
  spans.forEach((s, i) => {
    const twins = byId.get(s.id);
    if (twins.length > 1 && s.shared) {
      const client = spans.findIndex((o, j) => j !== i && o.id === s.id && !o.shared);
      if (client >= 0) return parentKey.set(key(s, i), key(spans[client], client));
    }
    if (s.parentId && byId.has(s.parentId)) {
      const candidates = byId.get(s.parentId);
      // a shared span's children belong to its server half (the last one)
      parentKey.set(key(s, i), candidates[candidates.length - 1]);
    }
  });
  const children = new Map();
  const all = spans.map((s, i) => ({ k: key(s, i), s }));
  for (const { k } of all) {
    const p = parentKey.get(k);
    if (p) {
      if (!children.has(p)) children.set(p, []);
      children.get(p).push(k);
    }
  }
  const spanOf = new Map(all.map(({ k, s }) => [k, s]));
  const byStart = (a, b) => (spanOf.get(a).timestamp || 0) - (spanOf.get(b).timestamp || 0);
  const out = [];
  const seen = new Set();
  const walk = (k, depth, orphan) => {
    if (seen.has(k)) return; // a cycle in bad data: show each span once
    seen.add(k);
    const kids = (children.get(k) || []).slice().sort(byStart);
    out.push({ span: spanOf.get(k), depth, orphan, children: kids.length });
    for (const c of kids) walk(c, depth + 1, false);
  };
  const roots = all.filter(({ k }) => !parentKey.has(k)).map(({ k }) => k).sort(byStart);
  for (const r of roots) walk(r, 0, Boolean(spanOf.get(r).parentId));
  for (const { k } of all) walk(k, 0, true); // anything left in a cycle
  return out;
}
