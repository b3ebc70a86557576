// Auto-refresh, as Grafana offers it: Off, 5s, 10s, 30s, 1m, kept in the URL as `refresh=10s`.

import { h } from "./dom.js";

/** The intervals offered: URL value, label, milliseconds. */
export const INTERVALS = [["", "Off", 0], ["5s", "5s", 5000], ["10s", "10s", 10_000], ["30s", "30s", 30_000], ["1m", "1m", 60_000]];

/**
 * Milliseconds of a `refresh` URL value (0: off, also for values not offered).
 * @param {string|null} value
 * @returns {number}
 */
export function refreshMs(value) {
  const found = INTERVALS.find(([id]) => id === (value || ""));
  return found ? found[2] : 0;
}

/**
 * A select of the intervals and the timer behind it: `tick` runs every interval while
 * the page is shown (a hidden tab skips ticks: nobody is looking).
 * @param {{value: string, onChange: (value: string) => void, tick: () => void}} options
 * @returns {{el: HTMLSelectElement, set: (value: string) => void, stop: () => void}}
 */
export function autoRefresh({ value, onChange, tick }) {
  const el = h("select", { class: "select refresh-picker", attrs: { "aria-label": "Auto-refresh" }, dataset: { testid: "auto-refresh" } },
    INTERVALS.map(([id, label]) => h("option", { value: id, text: id ? `Refresh every ${label}` : "Auto-refresh off", selected: id === value })));
  let timer = null;
  let current = null;
  const start = (v) => {
    current = v;
    if (timer) clearInterval(timer);
    timer = null;
    const ms = refreshMs(v);
    if (ms) timer = setInterval(() => { if (!document.hidden) tick(); }, ms);
  };
  el.addEventListener("change", () => onChange(el.value));
  start(value);
  return {
    el,
    set(next) {
      const v = refreshMs(next) ? next : "";
      el.value = v;
      if (v !== current) start(v);
    },
    stop() {
      if (timer) clearInterval(timer);
      timer = null;
    },
  };
}
