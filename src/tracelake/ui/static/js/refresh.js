// Auto-refresh: a select of intervals (off, 5s … 1m) and the timer that re-runs a view,
// as Kibana's and Grafana's refresh pickers do. The interval is part of the view's URL.

import { h } from "./dom.js";

/** The intervals offered: [URL value, milliseconds]; "" is off. */
export const REFRESH_INTERVALS = [["", 0], ["5s", 5000], ["10s", 10_000], ["30s", 30_000], ["1m", 60_000]];

/**
 * The milliseconds of a URL value, 0 (off) for anything not offered.
 * @param {string|null|undefined} value
 * @returns {number}
 */
export function refreshMs(value) {
  const found = REFRESH_INTERVALS.find(([v]) => v === (value || ""));
  return found ? found[1] : 0;
}

/**
 * The interval picker.
 * @param {{value: string, onChange: (value: string) => void}} options
 * @returns {{el: HTMLSelectElement, set: (value: string) => void}}
 */
export function refreshPicker({ value, onChange }) {
  const el = /** @type {HTMLSelectElement} */ (h("select", {
    class: "select refresh-select", title: "Auto-refresh: run the search again every …",
    attrs: { "aria-label": "Auto-refresh" }, dataset: { testid: "refresh" },
    onchange: () => onChange(el.value),
  }, REFRESH_INTERVALS.map(([v]) => h("option", { value: v, text: v ? `↻ ${v}` : "↻ Off" }))));
  el.value = refreshMs(value) ? value : "";
  return { el, set: (v) => { el.value = refreshMs(v) ? v : ""; } };
}

/**
 * Call `run` every `ms` while the page is visible (a hidden tab is not refreshed; it
 * catches up when shown again).
 * @param {number} ms 0 does nothing
 * @param {() => void} run
 * @returns {() => void} stops the timer
 */
export function every(ms, run) {
  if (!ms) return () => {};
  let due = false;
  const tick = () => {
    if (document.hidden) due = true;
    else run();
  };
  const onVisible = () => {
    if (!document.hidden && due) {
      due = false;
      run();
    }
  };
  const timer = setInterval(tick, ms);
  document.addEventListener("visibilitychange", onVisible);
  return () => {
    clearInterval(timer);
    document.removeEventListener("visibilitychange", onVisible);
  };
}
