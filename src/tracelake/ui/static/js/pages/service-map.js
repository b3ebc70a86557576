// Service map: a placeholder until its API lands.

import { comingSoon } from "./placeholder.js";

/**
 * Mount the Service map page.
 * @param {HTMLElement} root
 * @returns {{}}
 */
export function mount(root) {
  return comingSoon(root, {
    title: "Service map",
    arrives: "tracing (the dependency graph from spans)",
    what: "Services as nodes and their calls as edges, with call and error rates, built from spans.",
  });
}
