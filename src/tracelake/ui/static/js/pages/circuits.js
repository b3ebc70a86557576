// Circuits: a placeholder until its API lands.

import { comingSoon } from "./placeholder.js";

/**
 * Mount the Circuits page.
 * @param {HTMLElement} root
 * @returns {{}}
 */
export function mount(root) {
  return comingSoon(root, {
    title: "Circuits",
    arrives: "circuit-breaker monitoring (the Turbine stream)",
    what: "A Hystrix-style dashboard: one tile per circuit with its state, rolling error rate, request volume and latency percentiles.",
  });
}
