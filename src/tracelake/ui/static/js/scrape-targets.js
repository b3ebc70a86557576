// The scrape targets as Prometheus's Targets page shows them: per instance, the endpoint,
// its health, when it was last scraped, how long that took, and the error that made it down.
// Reads `GET /prometheus/api/v1/targets` answers; no DOM outside what it returns.

import { formatAgo, formatTime, h } from "./dom.js";
import { hrefFor } from "./router.js";

/** Prometheus's "never scraped" time. */
const NEVER = "0001-01-01T00:00:00Z";

/**
 * A scrape duration for humans: `850 µs`, `12 ms`, `1.24 s`.
 * @param {number} seconds
 * @returns {string}
 */
export function formatScrapeDuration(seconds) {
  if (!Number.isFinite(seconds) || seconds <= 0) return "–";
  if (seconds < 0.001) return `${Math.round(seconds * 1e6)} µs`;
  if (seconds < 1) return `${+(seconds * 1000).toPrecision(3)} ms`;
  return `${+seconds.toPrecision(3)} s`;
}

/**
 * The targets table (or a note when there is none).
 * @param {Array<any>} targets `activeTargets` of the answer
 * @param {number} now epoch ms
 * @param {string} service the service the page narrows to ("" for all)
 * @returns {HTMLElement}
 */
export function targetsTable(targets, now, service) {
  if (!targets.length) {
    return h("div", { class: "muted empty-note", dataset: { testid: "no-targets" },
      text: service
        ? `No scrape target of ${service}: its instances register a metrics_path, or the scrape_targets setting lists it.`
        : "No scrape targets: instances that register with a metrics_path are scraped, and so are those of the scrape_targets setting." });
  }
  const sorted = [...targets].sort((a, b) => String(a.scrapePool).localeCompare(String(b.scrapePool))
    || String(a.labels && a.labels.instance).localeCompare(String(b.labels && b.labels.instance)));
  return h("div", { class: "table-scroll" },
    h("table", { class: "data-table targets-table", dataset: { testid: "targets" } },
      h("thead", {}, h("tr", {}, ["Service", "Instance", "Endpoint", "State", "Last scrape", "Duration", "Samples", "Error"]
        .map((c, i) => h("th", { scope: "col", class: i === 5 || i === 6 ? "num" : "", text: c })))),
      h("tbody", {}, sorted.map((t) => targetRow(t, now)))));
}

function targetRow(t, now) {
  const health = String(t.health || "unknown");
  const pool = String(t.scrapePool || "");
  const instance = String((t.labels && t.labels.instance) || "");
  const scraped = t.lastScrape && t.lastScrape !== NEVER;
  return h("tr", { dataset: { testid: "target", service: pool, instance, health } },
    h("td", { class: "mono" }, h("a", { href: hrefFor("services", { service: pool }), text: pool })),
    h("td", { class: "mono", text: instance }),
    h("td", { class: "mono", text: String(t.scrapeUrl || "") }),
    h("td", {}, h("span", { class: `status-badge ${health === "up" ? "up" : health === "down" ? "down" : "unknown"}`, text: health, dataset: { testid: "target-health" } })),
    h("td", { text: scraped ? formatAgo(t.lastScrape, now) : "not yet", title: scraped ? formatTime(t.lastScrape) : `every ${t.scrapeInterval}`, dataset: { testid: "last-scrape" } }),
    h("td", { class: "num mono", text: scraped ? formatScrapeDuration(Number(t.lastScrapeDuration)) : "–", title: `time limit ${t.scrapeTimeout}`, dataset: { testid: "scrape-duration" } }),
    h("td", { class: "num mono", text: scraped ? String(t.lastSamplesScraped ?? "–") : "–" }),
    h("td", { class: "error-text target-error", text: String(t.lastError || ""), dataset: { testid: "scrape-error" } }));
}
