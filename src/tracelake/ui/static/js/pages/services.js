// Services: a placeholder until its API lands.

import { comingSoon } from "./placeholder.js";

/**
 * Mount the Services page.
 * @param {HTMLElement} root
 * @returns {{}}
 */
export function mount(root) {
  return comingSoon(root, {
    title: "Services",
    arrives: "the service registry",
    what: "Every registered instance with its health, last heartbeat and metadata, grouped by service.",
  });
}
