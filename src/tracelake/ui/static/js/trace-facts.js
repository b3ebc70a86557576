// What a trace list row says about a trace beyond its root (as Jaeger's search results
// do): how many spans each service has, and the error of the span that failed.

import { isError, spanService } from "./tracing.js";

/**
 * Spans per service, most spans first (ties by name).
 * @param {any[]} spans
 * @returns {Array<{service: string, spans: number, errors: number}>}
 */
export function serviceCounts(spans) {
  const counts = new Map();
  for (const span of spans) {
    const name = spanService(span);
    const c = counts.get(name) || { service: name, spans: 0, errors: 0 };
    c.spans += 1;
    if (isError(span)) c.errors += 1;
    counts.set(name, c);
  }
  return [...counts.values()].sort((a, b) => b.spans - a.spans || a.service.localeCompare(b.service));
}

/**
 * The message of a failing span: its `error` tag when that says more than "true", else
 * the `exception.message` of an exception event (OpenTelemetry), else the HTTP status.
 * @param {any} span
 * @returns {string}
 */
export function errorMessage(span) {
  const tags = span.tags || {};
  const tag = String(tags.error ?? "").trim();
  if (tag && tag.toLowerCase() !== "true") return tag;
  for (const a of span.annotations || []) {
    try {
      const event = JSON.parse(a.value);
      const exception = event && event.exception;
      if (exception && exception["exception.message"]) return String(exception["exception.message"]);
    } catch {
      // a plain annotation, not an event with attributes
    }
  }
  for (const key of ["otel.status_description", "http.status_code", "http.response.status_code"]) {
    if (tags[key]) return key.startsWith("http") ? `HTTP ${tags[key]}` : String(tags[key]);
  }
  return "error";
}

/**
 * The failing span to name in the list: the first (by start) of the failing spans none
 * of whose children failed, which is where the error began rather than a caller that
 * passed it on.
 * @param {any[]} spans
 * @returns {{span: any, service: string, message: string}|null}
 */
export function failure(spans) {
  const failing = spans.filter(isError);
  if (!failing.length) return null;
  const parentsOfFailures = new Set(failing.map((s) => s.parentId).filter(Boolean));
  const sameIdFailures = new Set(failing.filter((s) => s.shared).map((s) => s.id));
  const deepest = failing.filter((s) => !parentsOfFailures.has(s.id) && !(sameIdFailures.has(s.id) && !s.shared));
  const span = (deepest.length ? deepest : failing).slice().sort((a, b) => (a.timestamp || 0) - (b.timestamp || 0))[0];
  return { span, service: spanService(span), message: errorMessage(span) };
}
