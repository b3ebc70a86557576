// Small DOM helpers. Data only ever becomes text (textContent / properties), never HTML.

/**
 * Create an element.
 *
 * `props`: `class` (string), `text` (set as textContent), `dataset` (object),
 * `attrs` (object of attributes), `on<event>` (listener functions); any other key is
 * set as a DOM property (`href`, `title`, `value`, `type`, `disabled` ...).
 * Children: nodes, or strings/numbers that become text nodes; null/undefined/false skip.
 *
 * @param {string} tag
 * @param {Record<string, any>} [props]
 * @param {...(Node|string|number|null|undefined|false)} children
 * @returns {HTMLElement}
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null) continue;
    if (key === "class") el.className = value;
    else if (key === "text") el.textContent = String(value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key === "attrs") {
      for (const [name, v] of Object.entries(value)) if (v !== null && v !== undefined) el.setAttribute(name, String(v));
    } else if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else el[key] = value;
  }
  append(el, children);
  return el;
}

/**
 * Append children (nodes or text) to an element.
 * @param {Element} el
 * @param {Array<Node|string|number|null|undefined|false|Array<any>>} children
 */
export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/**
 * Replace all children of an element.
 * @param {Element} el
 * @param {...(Node|string|null|undefined|false)} children
 */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

/**
 * Close `popover` when a click or Escape happens outside `anchor` and `popover`.
 * @param {HTMLElement} anchor
 * @param {HTMLElement} popover
 * @param {() => void} close
 * @returns {() => void} removes the listeners
 */
export function dismissOnOutside(anchor, popover, close) {
  const onDown = (event) => {
    if (!popover.contains(event.target) && !anchor.contains(event.target)) close();
  };
  const onKey = (event) => {
    if (event.key === "Escape") close();
  };
  document.addEventListener("mousedown", onDown);
  document.addEventListener("keydown", onKey);
  return () => {
    document.removeEventListener("mousedown", onDown);
    document.removeEventListener("keydown", onKey);
  };
}

const pad = (n, w = 2) => String(n).padStart(w, "0");

/**
 * A time as local `YYYY-MM-DD HH:MM:SS.mmm`.
 * @param {string|number|Date} value ISO string, epoch ms or Date
 * @returns {string}
 */
export function formatTime(value) {
  const d = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(d.getTime())) return String(value ?? "");
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`
  );
}

/**
 * A count with thousands separators.
 * @param {number} n
 * @returns {string}
 */
export function formatCount(n) {
  return Number(n).toLocaleString("en-US");
}

/**
 * "12 s ago", "3 min ago", "2 h ago" for an ISO time (or epoch seconds).
 * @param {string|number} value
 * @param {number} [now] epoch ms
 * @returns {string}
 */
export function formatAgo(value, now = Date.now()) {
  const t = typeof value === "number" ? value * 1000 : Date.parse(value);
  if (Number.isNaN(t)) return String(value ?? "");
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 90) return `${s} s ago`;
  if (s < 90 * 60) return `${Math.round(s / 60)} min ago`;
  if (s < 36 * 3600) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

/**
 * A length of time: "45 s", "2 min 10 s", "1 h 5 min", "3 d 4 h".
 * @param {number} seconds
 * @returns {string}
 */
export function formatSpan(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const [d, hr, m] = [Math.floor(s / 86400), Math.floor(s / 3600) % 24, Math.floor(s / 60) % 60];
  if (d) return hr ? `${d} d ${hr} h` : `${d} d`;
  if (hr) return m ? `${hr} h ${m} min` : `${hr} h`;
  return s % 60 ? `${m} min ${s % 60} s` : `${m} min`;
}

/**
 * What a rate of `/api/v1/traces/red` is taken over: "over the last 2 min 10 s" when
 * the range ends now, "over 2 min 10 s" for a range in the past.
 * @param {{seconds: number, to: string}|undefined} covered
 * @param {number} [now] epoch ms
 * @returns {string}
 */
export function coveredText(covered, now = Date.now()) {
  if (!covered) return "";
  const recent = now - Date.parse(covered.to) < 5000;
  return `${recent ? "over the last" : "over"} ${formatSpan(covered.seconds)}`;
}

const SIGNIFICANT = new Intl.NumberFormat("en-US", { maximumSignificantDigits: 4 });

/**
 * A measured value as Grafana shows one without a unit: four significant digits, no
 * exponent, no SI prefix (0.1818, 11, 17.05, 1,235,000). Takes numbers and Prometheus's
 * value strings ("1.8181818181818182e-01", "+Inf", "NaN").
 * @param {number|string|null|undefined} value
 * @returns {string}
 */
export function formatNumber(value) {
  if (value === null || value === undefined || value === "") return "";
  if (value === "+Inf" || value === Infinity) return "+Inf";
  if (value === "-Inf" || value === -Infinity) return "-Inf";
  const n = Number(value);
  if (Number.isNaN(n)) return "NaN";
  return SIGNIFICANT.format(n);
}
