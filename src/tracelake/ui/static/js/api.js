// The native HTTP API (docs/http-api.md), as small promise-returning functions.

/** An API answer that was not a success: `message` is the server's `error` text. */
export class ApiError extends Error {
  /**
   * @param {string} message
   * @param {number} status HTTP status (0: the request did not reach the server)
   * @param {number|undefined} column 1-based query column of a syntax error
   */
  constructor(message, status, column) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.column = column;
  }
}

async function request(url, init) {
  let response;
  try {
    response = await fetch(url, { headers: { Accept: "application/json" }, ...init });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(`cannot reach the server: ${error.message}`, 0);
  }
  const text = await response.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (response.status === 401 && location.pathname !== "/login") {
    location.assign("/login"); // the session ended (logout, expiry, a restart): log in again
  }
  if (!response.ok) {
    const message = body && typeof body.error === "string" ? body.error : `${response.status} ${response.statusText}`;
    throw new ApiError(message, response.status, body ? body.column : undefined);
  }
  return body;
}

/**
 * `GET path?params` as JSON.
 * @param {string} path
 * @param {Record<string, string|number|undefined|null>} [params] empty values are left out
 * @param {AbortSignal} [signal]
 * @returns {Promise<any>}
 */
export function getJSON(path, params = {}, signal) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") query.set(key, String(value));
  }
  const qs = query.toString();
  return request(qs ? `${path}?${qs}` : path, { signal });
}

/**
 * `POST path` with a JSON body; the answer as JSON.
 * @param {string} path
 * @param {any} body
 * @param {AbortSignal} [signal]
 * @returns {Promise<any>}
 */
export function postJSON(path, body, signal) {
  return request(path, {
    method: "POST",
    body: JSON.stringify(body),
    headers: { Accept: "application/json", "Content-Type": "application/json" },
    signal,
  });
}

/**
 * `DELETE path`; the answer as JSON.
 * @param {string} path
 * @returns {Promise<any>}
 */
export function deleteJSON(path) {
  return request(path, { method: "DELETE" });
}

/**
 * Run a search-language query (`GET /api/v1/search`).
 * @param {{q?: string, from?: string, to?: string, limit?: number}} query
 * @param {AbortSignal} [signal]
 * @returns {Promise<{kind: string, columns: string[], rows: object[], truncated: boolean, took_ms: number}>}
 */
export function search(query, signal) {
  return getJSON("/api/v1/search", query, signal);
}

/**
 * Run read-only SQL over the lake (`POST /api/v1/sql`).
 * @param {string} text one SELECT statement
 * @param {any[]} [params] values for `?` placeholders
 * @param {AbortSignal} [signal]
 * @returns {Promise<{columns: string[], rows: any[][], truncated: boolean, took_ms: number}>}
 */
export function sql(text, params = [], signal) {
  return postJSON("/api/v1/sql", { sql: text, params }, signal);
}

/**
 * Open the live tail (`GET /api/v1/tail`) as an EventSource.
 * @param {string} q search part of a query (pipes are not applied to the tail)
 * @returns {EventSource}
 */
export function tail(q) {
  return new EventSource(`/api/v1/tail?q=${encodeURIComponent(q)}`);
}
