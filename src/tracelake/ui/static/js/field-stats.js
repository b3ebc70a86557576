// A numeric field's distribution for its facet (Kibana's field statistics): min, p50,
// p95, p99 and max of the records that match, with a small strip showing where the
// percentiles fall between min and max.

import { formatCount, h } from "./dom.js";

const QUANTILES = ["p50", "p95", "p99"];

/**
 * The stats pipe of a field's distribution over a search.
 * @param {string} search the search part of the page's query
 * @param {string} field
 * @returns {string}
 */
export function distributionQuery(search, field) {
  const aggs = ["count", "min", ...QUANTILES, "max"].map((f) => `${f}(${field})`).join(", ");
  return `${search} | stats ${aggs}`;
}

/**
 * A number for the facet: thousands separated, at most four significant digits.
 * @param {number} v
 * @returns {string}
 */
export function formatStat(v) {
  return Number(v).toLocaleString("en-US", { maximumSignificantDigits: Math.abs(v) >= 1e4 ? 21 : 4 });
}

/**
 * The distribution of a `distributionQuery` answer, or null when the field is not a
 * number in these records (its min is then null).
 * @param {{rows: object[]}} result
 * @param {string} field
 * @returns {HTMLElement|null}
 */
export function distribution(result, field) {
  const row = result.rows[0] || {};
  const value = (f) => row[`${f}(${field})`];
  const min = value("min");
  const max = value("max");
  if (typeof min !== "number" || typeof max !== "number") return null;
  const span = max - min || 1;
  const at = (v) => `${Math.min(100, Math.max(0, ((v - min) / span) * 100))}%`;
  const strip = h("div", { class: "dist-strip", attrs: { "aria-hidden": "true" } });
  const box = h("span", { class: "dist-box" });
  box.style.left = at(value("p50"));
  box.style.width = `calc(${at(value("p95"))} - ${at(value("p50"))})`;
  strip.append(box);
  for (const q of QUANTILES) {
    const tick = h("span", { class: `dist-tick dist-${q}`, title: q });
    tick.style.left = at(value(q));
    strip.append(tick);
  }
  const cells = [["min", min], ...QUANTILES.map((q) => [q, value(q)]), ["max", max]];
  return h("div", { class: "facet-dist", dataset: { testid: "distribution" } },
    strip,
    h("dl", { class: "dist-values" }, cells.map(([name, v]) => h("div", { class: "dist-cell", dataset: { stat: name } },
      h("dt", { text: name }), h("dd", { class: "mono", text: typeof v === "number" ? formatStat(v) : "–" })))),
    h("div", { class: "dist-count muted", text: `${formatCount(Number(value("count")) || 0)} values` }));
}
