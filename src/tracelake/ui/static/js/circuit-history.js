// The sparklines' past from the lake: the breaker metrics services expose
// (`tracelake_breaker_request_count`, `tracelake_breaker_thread_pool_executed_total`,
// scraped with `service` = the cluster) over the last two minutes, so a tile opened now
// shows its recent rate at once instead of an empty line for two minutes.

import { getJSON } from "./api.js";
import { SPARK_WINDOW_MS } from "./hystrix.js";

const STEP_S = 2;

/**
 * Per circuit (or pool) name, its points over the last two minutes; an empty map when
 * the lake has none (the service is not scraped) or the query fails.
 * @param {string} cluster
 * @param {"HystrixCommand"|"HystrixThreadPool"} type
 * @returns {Promise<Map<string, Array<[number, number]>>>} [epoch ms, value] where a
 *   command's value is its health count (divide by the rolling window for a rate) and a
 *   pool's is executions per second
 */
export async function lakeHistory(cluster, type) {
  const selector = `{service=${JSON.stringify(cluster)}}`;
  const query = type === "HystrixCommand"
    ? `sum by (name) (tracelake_breaker_request_count${selector})`
    : `sum by (name) (rate(tracelake_breaker_thread_pool_executed_total${selector}[30s]))`;
  const end = Date.now() / 1000;
  try {
    const answer = await getJSON("/prometheus/api/v1/query_range",
      { query, start: end - SPARK_WINDOW_MS / 1000, end, step: STEP_S });
    const out = new Map();
    for (const r of (answer.data && answer.data.result) || []) {
      const name = r.metric && r.metric.name;
      if (typeof name !== "string") continue;
      out.set(name, (r.values || []).map(([t, v]) => [Number(t) * 1000, Number(v)]).filter(([, v]) => Number.isFinite(v)));
    }
    return out;
  } catch {
    return new Map(); // no history: the line starts with what the stream brings
  }
}
