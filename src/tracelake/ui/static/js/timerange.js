// Time ranges as the API takes them (`-15m` ... `now`, or ISO 8601), and the picker.

import { dismissOnOutside, formatTime, h, replace } from "./dom.js";

const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** Relative ranges offered by the picker: [API value, label]. */
export const RELATIVE = [
  ["-5m", "Last 5 minutes"],
  ["-15m", "Last 15 minutes"],
  ["-1h", "Last 1 hour"],
  ["-6h", "Last 6 hours"],
  ["-24h", "Last 24 hours"],
  ["-7d", "Last 7 days"],
];

/** The range shown when the URL names none. */
export const DEFAULT_FROM = "-15m";

/**
 * Read one end of a range (`now`, `-15m`, `now-2h`, ISO 8601, epoch s/ms) as epoch ms.
 * @param {string|undefined|null} value
 * @param {number} now epoch ms
 * @returns {number|null} null for an empty or unreadable value
 */
export function parseMoment(value, now) {
  const text = (value || "").trim();
  if (!text) return null;
  if (text === "now") return now;
  const rel = /^(?:now)?([+-]?)(\d+(?:\.\d+)?)([smhdw])$/.exec(text);
  if (rel) {
    const delta = Number(rel[2]) * UNIT_MS[rel[3]];
    return rel[1] === "+" ? now + delta : now - delta;
  }
  if (/^\d+(\.\d+)?$/.test(text)) {
    const n = Number(text);
    return n > 1e11 ? n : n * 1000;
  }
  const t = Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(text) || !text.includes("T") ? text : `${text}Z`);
  return Number.isNaN(t) ? null : t;
}

/**
 * A range as epoch ms; an empty `to` is now, an empty `from` the default.
 * @param {string|undefined} from
 * @param {string|undefined} to
 * @param {number} [now]
 * @returns {{fromMs: number, toMs: number}}
 */
export function resolveRange(from, to, now = Date.now()) {
  const toMs = parseMoment(to, now) ?? now;
  const fromMs = parseMoment(from, now) ?? parseMoment(DEFAULT_FROM, now);
  return fromMs < toMs ? { fromMs, toMs } : { fromMs: toMs - 60_000, toMs };
}

/**
 * The picker's label for a range.
 * @param {string|undefined} from
 * @param {string|undefined} to
 * @returns {string}
 */
export function describeRange(from, to) {
  const f = from || DEFAULT_FROM;
  const relative = RELATIVE.find(([value]) => value === f);
  if (relative && (!to || to === "now")) return relative[1];
  const now = Date.now();
  const a = parseMoment(f, now);
  const b = parseMoment(to, now) ?? now;
  const fmt = (t) => formatTime(t).slice(0, 19);
  if (a === null) return f;
  return `${fmt(a)} → ${to && to !== "now" ? fmt(b) : "now"}`;
}

const BINS = [
  ["1s", 1000], ["5s", 5000], ["10s", 10_000], ["30s", 30_000],
  ["1m", 60_000], ["5m", 300_000], ["10m", 600_000], ["30m", 1_800_000],
  ["1h", 3_600_000], ["3h", 10_800_000], ["6h", 21_600_000], ["12h", 43_200_000], ["1d", 86_400_000],
];

/**
 * The histogram bucket for a range: the smallest round width giving at most ~90 bars.
 * @param {number} spanMs
 * @returns {{label: string, ms: number}}
 */
export function chooseBin(spanMs) {
  for (const [label, ms] of BINS) if (spanMs / ms <= 90) return { label, ms };
  const [label, ms] = BINS[BINS.length - 1];
  return { label, ms };
}

const pad = (n) => String(n).padStart(2, "0");

/** Epoch ms → the value of a `datetime-local` input (local time, seconds). */
function toLocalInput(ms) {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/**
 * The time range picker: a button showing the range and a popover with the relative
 * ranges and absolute from/to inputs.
 * @param {{from: string, to: string, onChange: (range: {from: string, to: string}) => void}} options
 * @returns {{el: HTMLElement, set: (from: string, to: string) => void}}
 */
export function timeRangePicker({ from, to, onChange }) {
  let current = { from, to };
  const label = h("span", { class: "range-label" });
  const button = h("button", {
    type: "button",
    class: "btn range-btn",
    title: "Time range",
    attrs: { "aria-haspopup": "dialog", "aria-expanded": "false" },
    dataset: { testid: "range" },
  }, h("span", { class: "icon-clock", attrs: { "aria-hidden": "true" } }), label);
  const popover = h("div", { class: "popover range-popover", hidden: true, attrs: { role: "dialog", "aria-label": "Time range" } });
  const wrap = h("div", { class: "range-picker" }, button, popover);
  let undismiss = null;

  const close = () => {
    popover.hidden = true;
    button.setAttribute("aria-expanded", "false");
    if (undismiss) undismiss();
    undismiss = null;
  };
  const choose = (range) => {
    close();
    current = range;
    label.textContent = describeRange(range.from, range.to);
    onChange(range);
  };

  const open = () => {
    const now = Date.now();
    const { fromMs, toMs } = resolveRange(current.from, current.to, now);
    const fromInput = h("input", { type: "datetime-local", step: 1, value: toLocalInput(fromMs), dataset: { testid: "range-from" } });
    const toInput = h("input", { type: "datetime-local", step: 1, value: toLocalInput(toMs), dataset: { testid: "range-to" } });
    const error = h("div", { class: "field-error", attrs: { role: "alert" } });
    const apply = (event) => {
      event.preventDefault();
      const a = new Date(fromInput.value).getTime();
      const b = new Date(toInput.value).getTime();
      if (Number.isNaN(a) || Number.isNaN(b) || a >= b) {
        error.textContent = "From must be a time before To.";
        return;
      }
      choose({ from: new Date(a).toISOString(), to: new Date(b).toISOString() });
    };
    replace(
      popover,
      h("div", { class: "range-cols" },
        h("div", { class: "range-relative" },
          h("div", { class: "popover-title", text: "Relative" }),
          RELATIVE.map(([value, text]) =>
            h("button", {
              type: "button",
              class: `range-option${value === current.from && (!current.to || current.to === "now") ? " active" : ""}`,
              text,
              onclick: () => choose({ from: value, to: "" }),
            }),
          ),
        ),
        h("form", { class: "range-absolute", onsubmit: apply },
          h("div", { class: "popover-title", text: "Absolute (local time)" }),
          h("label", {}, h("span", { text: "From" }), fromInput),
          h("label", {}, h("span", { text: "To" }), toInput),
          error,
          h("button", { type: "submit", class: "btn primary", text: "Apply" }),
        ),
      ),
    );
    popover.hidden = false;
    button.setAttribute("aria-expanded", "true");
    undismiss = dismissOnOutside(button, popover, close);
  };

  button.addEventListener("click", () => (popover.hidden ? open() : close()));
  label.textContent = describeRange(from, to);
  return {
    el: wrap,
    set(f, t) {
      current = { from: f, to: t };
      label.textContent = describeRange(f, t);
    },
  };
}
