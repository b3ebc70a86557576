// Metrics: a placeholder until its API lands.

import { comingSoon } from "./placeholder.js";

/**
 * Mount the Metrics page.
 * @param {HTMLElement} root
 * @returns {{}}
 */
export function mount(root) {
  return comingSoon(root, {
    title: "Metrics",
    arrives: "metrics and the Prometheus query API",
    what: "Browse metric names and labels and chart PromQL queries over the samples in the lake.",
  });
}
