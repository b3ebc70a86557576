// Reading Hystrix stream events the way the Hystrix Dashboard does: pure functions, no DOM.
//
// A cluster's stream (`/turbine.stream`) carries sums over its instances, so every
// average — error percentage, latency percentiles — is the sum divided by
// `reportingHosts`, and strings or booleans the instances disagree on arrive as a
// value → instance-count object (`{"true": 1, "false": 2}`), or, from a Turbine 1.x,
// as that object JSON-encoded in a string. Everything here tolerates all three.

/** Circle colour stops of the dashboard: per-host error % → colour. */
const ERROR_STOPS = [
  [10, [0, 128, 0]],
  [25, [255, 204, 0]],
  [40, [255, 153, 0]],
  [50, [255, 0, 0]],
];

/** The Hystrix window when a stream does not say (10 s). */
export const DEFAULT_WINDOW_MS = 10_000;

/** How long a sparkline looks back, and how many points it keeps at most. */
export const SPARK_WINDOW_MS = 120_000;
export const SPARK_MAX_POINTS = 200;

/**
 * A number from a field that may be a number, a numeric string, or a value → count map.
 * For a map, the value most instances report wins.
 * @param {any} value
 * @param {number} fallback
 * @returns {number}
 */
export function numberOf(value, fallback = 0) {
  if (typeof value === "number" && Number.isFinite(value)) return value;
  const map = valueCounts(value);
  if (map) {
    const [best] = Object.entries(map).sort((a, b) => b[1] - a[1]);
    const n = best ? Number(best[0]) : NaN;
    return Number.isFinite(n) ? n : fallback;
  }
  const n = Number(value);
  return value !== null && value !== "" && Number.isFinite(n) ? n : fallback;
}

/**
 * The value → instance-count map of an aggregated string/boolean field, or null when
 * the field holds one plain value.
 * @param {any} value
 * @returns {Record<string, number>|null}
 */
export function valueCounts(value) {
  if (value && typeof value === "object" && !Array.isArray(value)) return value;
  if (typeof value === "string" && value.startsWith("{")) {
    try {
      const parsed = JSON.parse(value);
      if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) return parsed;
    } catch {
      return null;
    }
  }
  return null;
}

/**
 * Instances reporting into an event (at least 1).
 * @param {object} event
 * @returns {number}
 */
export function hostsOf(event) {
  return Math.max(1, numberOf(event.reportingHosts, 1));
}

/**
 * Requests per second of a command over its rolling window: for the cluster and per host.
 * @param {object} event a HystrixCommand event
 * @returns {{cluster: number, host: number}}
 */
export function commandRate(event) {
  const windowMs = numberOf(event.propertyValue_metricsRollingStatisticalWindowInMilliseconds, DEFAULT_WINDOW_MS) || DEFAULT_WINDOW_MS;
  const cluster = numberOf(event.requestCount) / (windowMs / 1000);
  return { cluster, host: cluster / hostsOf(event) };
}

/**
 * Executions per second of a thread pool: for the cluster and per host.
 * @param {object} event a HystrixThreadPool event
 * @returns {{cluster: number, host: number}}
 */
export function poolRate(event) {
  const windowMs = numberOf(event.propertyValue_metricsRollingStatisticalWindowInMilliseconds, DEFAULT_WINDOW_MS) || DEFAULT_WINDOW_MS;
  const cluster = numberOf(event.rollingCountThreadsExecuted) / (windowMs / 1000);
  return { cluster, host: cluster / hostsOf(event) };
}

/**
 * Mean error percentage of the instances (the dashboard's `errorPercentage / reportingHosts`).
 * @param {object} event
 * @returns {number}
 */
export function errorPercent(event) {
  return numberOf(event.errorPercentage) / hostsOf(event);
}

/**
 * Circle radius for a per-host rate: the dashboard's square-root scale, domain 0–400/s,
 * mapped onto `[min, max]` pixels (Hystrix draws 5–125; tiles here are smaller).
 * @param {number} ratePerHost
 * @param {number} [min]
 * @param {number} [max]
 * @param {number} [domainMax]
 * @returns {number}
 */
export function circleRadius(ratePerHost, min = 6, max = 42, domainMax = 400) {
  const x = Math.min(Math.max(ratePerHost, 0), domainMax);
  return min + (max - min) * Math.sqrt(x / domainMax);
}

/**
 * Circle colour for a per-host error percentage: green at 10 % or less, yellow at 25,
 * orange at 40, red at 50 and above, interpolated linearly between (as Hystrix's d3 scale).
 * @param {number} percent
 * @returns {string} `rgb(r, g, b)`
 */
export function errorColor(percent) {
  const p = Number.isFinite(percent) ? percent : 0;
  if (p <= ERROR_STOPS[0][0]) return rgb(ERROR_STOPS[0][1]);
  for (let i = 1; i < ERROR_STOPS.length; i++) {
    const [x1, c1] = ERROR_STOPS[i];
    if (p <= x1) {
      const [x0, c0] = ERROR_STOPS[i - 1];
      const t = (p - x0) / (x1 - x0);
      return rgb(c0.map((v, k) => Math.round(v + (c1[k] - v) * t)));
    }
  }
  return rgb(ERROR_STOPS[ERROR_STOPS.length - 1][1]);
}

function rgb([r, g, b]) {
  return `rgb(${r}, ${g}, ${b})`;
}

/**
 * The circuit's state as the dashboard words it.
 * @param {object} event
 * @returns {{state: "open"|"closed"|"mixed"|"forced-open"|"forced-closed", text: string}}
 */
export function circuitStatus(event) {
  if (truthy(event.propertyValue_circuitBreakerForceOpen)) return { state: "forced-open", text: "Forced Open" };
  if (truthy(event.propertyValue_circuitBreakerForceClosed)) return { state: "forced-closed", text: "Forced Closed" };
  const value = event.isCircuitBreakerOpen;
  const counts = valueCounts(value);
  if (counts) {
    const open = numberOf(counts.true);
    const closed = numberOf(counts.false);
    if (open && closed) return { state: "mixed", text: `Open ${open} Closed ${closed}` };
    return open ? { state: "open", text: "Open" } : { state: "closed", text: "Closed" };
  }
  return value === true || value === "true" ? { state: "open", text: "Open" } : { state: "closed", text: "Closed" };
}

/** True for `true`/`"true"`, or a count map where every instance says true. */
function truthy(value) {
  if (value === true || value === "true") return true;
  const counts = valueCounts(value);
  return Boolean(counts && numberOf(counts.true) > 0 && !numberOf(counts.false));
}

/**
 * The outcome counters of the rolling window, named as the dashboard names them. The
 * rejection counter follows the isolation (thread pool or semaphore).
 * @param {object} event
 * @returns {Array<{key: string, label: string, value: number, kind: string}>}
 */
export function counters(event) {
  const semaphore = String(event.propertyValue_executionIsolationStrategy || "").includes("SEMAPHORE");
  const rows = [
    ["rollingCountSuccess", "Success", "success"],
    ["rollingCountShortCircuited", "Short-circuited", "short"],
    ["rollingCountBadRequests", "Bad request", "bad"],
    ["rollingCountTimeout", "Timed-out", "timeout"],
    semaphore
      ? ["rollingCountSemaphoreRejected", "Semaphore rejected", "rejected"]
      : ["rollingCountThreadPoolRejected", "Thread pool rejected", "rejected"],
    ["rollingCountFailure", "Failure", "failure"],
  ];
  return rows.map(([key, label, kind]) => ({ key, label, kind, value: numberOf(event[key]) }));
}

/** Latency percentiles shown per circuit: label, key in `latencyExecute`. */
export const PERCENTILES = [["Median", "50"], ["90th", "90"], ["99th", "99"], ["99.5th", "99.5"]];

/**
 * Execute latency per host in ms: mean and the percentiles (each divided by the hosts).
 * @param {object} event
 * @returns {{mean: number, percentiles: Array<[string, number|null]>}}
 */
export function latency(event) {
  const hosts = hostsOf(event);
  const map = event.latencyExecute && typeof event.latencyExecute === "object" ? event.latencyExecute : {};
  return {
    mean: numberOf(event.latencyExecute_mean) / hosts,
    percentiles: PERCENTILES.map(([label, key]) => [label, key in map ? numberOf(map[key]) / hosts : null]),
  };
}

/**
 * The figures of a thread pool the dashboard shows (cluster sums).
 * @param {object} event a HystrixThreadPool event
 * @returns {Array<[string, number]>}
 */
export function poolFigures(event) {
  return [
    ["Active", numberOf(event.currentActiveCount)],
    ["Queued", numberOf(event.currentQueueSize)],
    ["Pool size", numberOf(event.currentPoolSize)],
    ["Max active", numberOf(event.rollingMaxActiveThreads)],
    ["Executions", numberOf(event.rollingCountThreadsExecuted)],
    ["Rejected", numberOf(event.rollingCountCommandRejections)],
    // propertyValue_* are not summed by the aggregator (Turbine 2.x rule): no division
    ["Queue size", numberOf(event.propertyValue_queueSizeRejectionThreshold)],
  ];
}

/**
 * A rate for humans: `0`, `0.3`, `12.5`, `1,204`.
 * @param {number} n
 * @returns {string}
 */
export function formatRate(n) {
  if (!Number.isFinite(n) || n === 0) return "0";
  if (n >= 100) return Math.round(n).toLocaleString("en-US");
  return String(+n.toFixed(1));
}

/**
 * Milliseconds for humans: `0ms`, `12ms`, `1,340ms`.
 * @param {number|null} ms
 * @returns {string}
 */
export function formatMs(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "–";
  return `${Math.round(ms).toLocaleString("en-US")}ms`;
}

/**
 * Keeps the last two minutes of a value per key, for the sparklines.
 */
export class History {
  constructor(windowMs = SPARK_WINDOW_MS, maxPoints = SPARK_MAX_POINTS) {
    this.windowMs = windowMs;
    this.maxPoints = maxPoints;
    /** @type {Map<string, Array<[number, number]>>} */
    this.series = new Map();
  }

  /**
   * Add a point; points older than the window, and the oldest beyond the cap, go.
   * @param {string} key
   * @param {number} t epoch ms
   * @param {number} value
   * @returns {Array<[number, number]>} the key's points, oldest first
   */
  add(key, t, value) {
    const points = this.series.get(key) || [];
    points.push([t, value]);
    while (points.length && (points[0][0] < t - this.windowMs || points.length > this.maxPoints)) points.shift();
    this.series.set(key, points);
    return points;
  }

  /** @param {string} key */
  delete(key) {
    this.series.delete(key);
  }
}

/** Sort orders of the circuits, as the dashboard offers them: id, label, compare. */
export const SORTS = [
  ["error", "Error then volume", (a, b) => errorPercent(b) - errorPercent(a) || numberOf(b.requestCount) - numberOf(a.requestCount)],
  ["name", "Alphabetical", (a, b) => String(a.name).localeCompare(String(b.name))],
  ["volume", "Volume", (a, b) => numberOf(b.requestCount) - numberOf(a.requestCount)],
  ["mean", "Mean latency", (a, b) => latency(b).mean - latency(a).mean],
  ["p99", "99th latency", (a, b) => (latency(b).percentiles[2][1] ?? 0) - (latency(a).percentiles[2][1] ?? 0)],
];

/**
 * Older points for a key (from the lake) put before the ones watched live, so a
 * sparkline is full from the start; points at or after the first live one are skipped.
 * @param {History} history
 * @param {string} key
 * @param {Array<[number, number]>} points [epoch ms, value], oldest first
 * @returns {Array<[number, number]>} the key's points
 */
export function backfill(history, key, points) {
  const live = history.series.get(key) || [];
  const first = live.length ? live[0][0] : Infinity;
  const cutoff = (live.length ? live[live.length - 1][0] : Date.now()) - history.windowMs;
  const older = points.filter(([t]) => t < first && t >= cutoff);
  const merged = [...older, ...live].slice(-history.maxPoints);
  history.series.set(key, merged);
  return merged;
}

/**
 * Whether every circuit of a cluster runs on semaphores (so it has no thread pools).
 * @param {Iterable<object>} events HystrixCommand events
 * @returns {boolean}
 */
export function allSemaphores(events) {
  let any = false;
  for (const e of events) {
    any = true;
    if (!String(e.propertyValue_executionIsolationStrategy || "").includes("SEMAPHORE")) return false;
  }
  return any;
}

/** Open circuits (also forced open, or open on some hosts) first: 0, else 1. */
export function openRank(event) {
  const { state } = circuitStatus(event);
  return state === "open" || state === "forced-open" || state === "mixed" ? 0 : 1;
}
