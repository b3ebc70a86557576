// Hash routes: `#/<page>[/<rest>...][?key=value...]`, so every view is a shareable URL.

/**
 * @typedef {{page: string, rest: string[], params: URLSearchParams}} Route
 */

/**
 * Parse a location hash.
 * @param {string} hash e.g. `#/logs?q=level:error&from=-1h`
 * @returns {Route}
 */
export function parseHash(hash) {
  const text = hash.replace(/^#\/?/, "");
  const cut = text.indexOf("?");
  const path = cut >= 0 ? text.slice(0, cut) : text;
  const params = new URLSearchParams(cut >= 0 ? text.slice(cut + 1) : "");
  const parts = path.split("/").filter(Boolean).map((part) => {
    try {
      return decodeURIComponent(part);
    } catch {
      return part;
    }
  });
  return { page: parts[0] || "", rest: parts.slice(1), params };
}

/**
 * The hash URL of a page.
 * @param {string} page
 * @param {Record<string, string|undefined|null>|URLSearchParams} [params] empty values are left out
 * @param {string[]} [rest] extra path segments (encoded here)
 * @returns {string}
 */
export function hrefFor(page, params = {}, rest = []) {
  const query = new URLSearchParams();
  const entries = params instanceof URLSearchParams ? params.entries() : Object.entries(params);
  for (const [key, value] of entries) {
    if (value !== undefined && value !== null && value !== "") query.set(key, value);
  }
  const path = [page, ...rest.map(encodeURIComponent)].join("/");
  const qs = query.toString();
  return `#/${path}${qs ? `?${qs}` : ""}`;
}

/**
 * Go to a page. A new history entry unless `replace`; navigating to the current URL
 * still notifies the page (so "search again" refreshes).
 * @param {string} page
 * @param {Record<string, string|undefined|null>} [params]
 * @param {{replace?: boolean, rest?: string[]}} [options]
 */
export function navigate(page, params = {}, { replace = false, rest = [] } = {}) {
  const href = hrefFor(page, params, rest);
  if (href === location.hash || replace) {
    if (href !== location.hash) history.replaceState(null, "", href);
    window.dispatchEvent(new HashChangeEvent("hashchange"));
  } else {
    location.hash = href;
  }
}
