// Alerts: a placeholder until its API lands.

import { comingSoon } from "./placeholder.js";

/**
 * Mount the Alerts page.
 * @param {HTMLElement} root
 * @returns {{}}
 */
export function mount(root) {
  return comingSoon(root, {
    title: "Alerts",
    arrives: "alerting",
    what: "Rules over logs and metrics, their current state, and the history of firings and notifications.",
  });
}
