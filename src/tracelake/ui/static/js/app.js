// The shell: top navigation, hash routing to one ES module per page, server status.
//
// Adding a page: write `pages/<name>.js` exporting `mount(root, route)` (returning
// `{update?, unmount?}`) and add one entry to PAGES.

import { getJSON } from "./api.js";
import { h, replace } from "./dom.js";
import { parseHash } from "./router.js";

/** The pages, in navigation order: hash id, label, module loader (and other hash ids it answers). */
export const PAGES = [
  { id: "logs", title: "Logs", load: () => import("./pages/logs.js") },
  { id: "traces", title: "Traces", load: () => import("./pages/traces.js") },
  { id: "service-map", title: "Service map", load: () => import("./pages/service-map.js"), aliases: ["map"] },
  { id: "metrics", title: "Metrics", load: () => import("./pages/metrics.js") },
  { id: "circuits", title: "Circuits", load: () => import("./pages/circuits.js") },
  { id: "alerts", title: "Alerts", load: () => import("./pages/alerts.js") },
  { id: "services", title: "Services", load: () => import("./pages/services.js") },
  { id: "lake", title: "Lake", load: () => import("./pages/lake.js") },
];

const root = document.getElementById("page");
const nav = document.getElementById("nav");
const status = document.getElementById("server-status");
let current = { id: null, controller: null, token: 0 };

function renderNav(activeId) {
  replace(nav, PAGES.map((p) => h("a", {
    href: `#/${p.id}`,
    text: p.title,
    class: p.id === activeId ? "active" : "",
    attrs: { "aria-current": p.id === activeId ? "page" : null },
    dataset: { page: p.id },
  })));
}

async function route() {
  const parsed = parseHash(location.hash);
  const page = PAGES.find((p) => p.id === parsed.page || (p.aliases || []).includes(parsed.page));
  if (!page) {
    history.replaceState(null, "", "#/logs");
    return route();
  }
  if (current.id === page.id && current.controller) {
    if (current.controller.update) current.controller.update(parsed);
    return;
  }
  if (current.controller && current.controller.unmount) current.controller.unmount();
  const token = ++current.token;
  current = { id: page.id, controller: null, token };
  renderNav(page.id);
  document.title = `${page.title} · tracelake`;
  root.dataset.page = page.id;
  replace(root, h("div", { class: "muted page-loading", text: "Loading…" }));
  try {
    const module = await page.load();
    if (token !== current.token) return; // navigated away meanwhile
    const host = h("div", { class: `page-${page.id}` });
    replace(root, host);
    current.controller = module.mount(host, parsed) || {};
  } catch (error) {
    replace(root, h("div", { class: "note error-text", text: `This page failed to load: ${error.message}` }));
  }
}

async function refreshStatus() {
  try {
    const health = await getJSON("/-/health");
    status.className = "server-status ok";
    status.textContent = `v${health.version}`;
    status.title = `server up ${Math.round(health.uptime_s)} s`;
  } catch (error) {
    status.className = "server-status down";
    status.textContent = "server unreachable";
    status.title = error.message;
  }
}

window.addEventListener("hashchange", route);
route();
refreshStatus();
setInterval(refreshStatus, 30_000);
