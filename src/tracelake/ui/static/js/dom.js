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
