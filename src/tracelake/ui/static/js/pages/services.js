// Services: the service registry — each service, its instances, their health and last heartbeat,
// and (as Prometheus's Targets page) each scrape target's last scrape, its duration and error.
// Each service links to its logs, traces and RED metrics.
// `#/services?service=NAME` narrows to one service. Refreshed every few seconds.

import { getJSON } from "../api.js";
import { formatAgo, formatTime, h, replace } from "../dom.js";
import { fieldTerm } from "../query.js";
import { hrefFor, navigate } from "../router.js";
import { targetsTable } from "../scrape-targets.js";

const REFRESH_MS = 5000;

/**
 * Mount the Services page.
 * @param {HTMLElement} root
 * @param {import("../router.js").Route} route
 * @returns {{update: (route: import("../router.js").Route) => void, unmount: () => void}}
 */
export function mount(root, route) {
  let service = route.params.get("service") || "";
  let controller = null;
  let timer = null;

  const picker = h("select", { class: "select", attrs: { "aria-label": "Service" }, dataset: { testid: "service-filter" } });
  picker.addEventListener("change", () => navigate("services", { service: picker.value }, { replace: true }));
  const summary = h("span", { class: "muted", dataset: { testid: "summary" } });
  const errorBox = h("div", { class: "note error-text", hidden: true, attrs: { role: "alert" }, dataset: { testid: "error" } });
  const cards = h("div", { class: "service-cards", dataset: { testid: "service-cards" } });
  const body = h("div", { class: "services-body" });
  const targetsBody = h("div", { class: "services-body" });

  replace(root,
    h("div", { class: "panel" },
      h("div", { class: "toolbar panel-toolbar" },
        h("h1", { class: "page-title", text: "Services" }), picker, summary,
        h("span", { class: "toolbar-spacer" }),
        h("button", { type: "button", class: "btn", text: "Refresh", onclick: () => load() }))),
    errorBox,
    cards,
    h("section", { class: "panel" },
      h("div", { class: "results-head" }, h("h2", { text: "Instances" }),
        h("span", { class: "muted legend-hint", text: "up: heartbeats arrive within the registry's TTL; down: missed, evicted later" })),
      body),
    h("section", { class: "panel" },
      h("div", { class: "results-head" }, h("h2", { text: "Scrape targets" }),
        h("span", { class: "muted legend-hint", text: "the metrics endpoints the server scrapes: registered instances that are up, and the scrape_targets setting" })),
      targetsBody));

  async function load() {
    if (controller) controller.abort();
    controller = new AbortController();
    const signal = controller.signal;
    try {
      const [services, instances, targets] = await Promise.all([
        getJSON("/api/v1/registry/services", {}, signal),
        getJSON("/api/v1/registry/instances", { service }, signal),
        getJSON("/prometheus/api/v1/targets", { scrapePool: service }, signal).catch((error) => {
          if (error.name === "AbortError") throw error;
          return { error: error.message };
        }),
      ]);
      errorBox.hidden = true;
      render(services.services || [], instances.instances || []);
      replace(targetsBody, targets.error
        ? h("div", { class: "error-text empty-note", text: `Scrape status unavailable: ${targets.error}` })
        : targetsTable((targets.data && targets.data.activeTargets) || [], Date.now(), service));
    } catch (error) {
      if (error.name === "AbortError") return;
      errorBox.textContent = error.status === 404
        ? "This server has no service registry (GET /api/v1/registry/services answered 404)."
        : `The registry is unavailable: ${error.message}`;
      errorBox.hidden = false;
    }
  }

  function render(services, instances) {
    const names = services.map((s) => String(s.name));
    replace(picker, h("option", { value: "", text: "All services" }),
      names.map((name) => h("option", { value: name, text: name, selected: name === service })));
    if (service && !names.includes(service)) picker.append(h("option", { value: service, text: service, selected: true }));
    const up = services.reduce((n, s) => n + (Number(s.up) || 0), 0);
    const total = services.reduce((n, s) => n + (Number(s.instances) || 0), 0);
    summary.textContent = `${names.length} service${names.length === 1 ? "" : "s"} · ${up} of ${total} instances up`;
    replace(cards, services.filter((s) => !service || s.name === service).map((s) => serviceCard(s)));
    if (!instances.length) {
      replace(body, h("div", { class: "muted empty-note", text: service ? `No instances of ${service} are registered.` : "No service has registered yet: services call tracelake.sdk.register(service=..., port=...), or POST /api/v1/registry/instances." }));
      return;
    }
    const now = Date.now();
    const sorted = [...instances].sort((a, b) => String(a.service).localeCompare(String(b.service)) || String(a.instance_id).localeCompare(String(b.instance_id)));
    replace(body, h("div", { class: "table-scroll" },
      h("table", { class: "data-table instances-table", dataset: { testid: "instances" } },
        h("thead", {}, h("tr", {}, ["Service", "Instance", "Address", "Status", "Last heartbeat", "Registered", "Endpoints", "Metadata"].map((c) => h("th", { scope: "col", text: c })))),
        h("tbody", {}, sorted.map((i) => instanceRow(i, now))))));
  }

  function serviceCard(s) {
    const up = Number(s.up) || 0;
    const total = Number(s.instances) || 0;
    const state = up === total && total > 0 ? "up" : up === 0 ? "down" : "partial";
    const name = String(s.name);
    return h("div", { class: `panel service-card ${state}`, dataset: { testid: "service-card", name, state } },
      h("a", { class: "service-card-name mono", href: hrefFor("services", { service: name }), text: name }),
      h("span", { class: "service-card-count", text: `${up}/${total} up` }),
      serviceLinks(name));
  }

  function instanceRow(i, now) {
    const status = String(i.status || "");
    const address = `${i.host}:${i.port}`;
    const endpoints = [];
    if (i.metrics_path) endpoints.push(h("span", { class: "mono", text: `metrics ${i.metrics_path}`, title: `${address}${i.metrics_path}` }));
    if (i.hystrix_stream_path) {
      endpoints.push(h("a", { class: "mono", href: hrefFor("circuits", { cluster: String(i.service) }), text: "circuits", title: `hystrix stream at ${address}${i.hystrix_stream_path}` }));
    }
    if (i.health_path) endpoints.push(h("span", { class: "mono", text: `health ${i.health_path}`, title: `${address}${i.health_path}` }));
    const metadata = i.metadata && typeof i.metadata === "object" ? Object.entries(i.metadata) : [];
    return h("tr", { dataset: { testid: "instance", service: String(i.service), instance: String(i.instance_id), status } },
      h("td", { class: "mono" }, h("a", { href: hrefFor("services", { service: String(i.service) }), text: String(i.service) })),
      h("td", { class: "mono", text: String(i.instance_id) }),
      h("td", { class: "mono", text: address }),
      h("td", {}, h("span", { class: `status-badge ${status === "up" ? "up" : "down"}`, text: status, dataset: { testid: "status" } })),
      h("td", { text: formatAgo(i.last_heartbeat, now), title: formatTime(i.last_heartbeat), dataset: { testid: "heartbeat" } }),
      h("td", { text: formatTime(i.registered_at).slice(0, 19), title: String(i.registered_at) }),
      h("td", {}, h("div", { class: "chips endpoints" }, endpoints)),
      h("td", {}, h("div", { class: "chips mono", dataset: { testid: "metadata" } },
        metadata.map(([k, v]) => h("span", { class: "kv-pair", text: `${k}=${typeof v === "object" ? JSON.stringify(v) : v}` })))));
  }

  load();
  timer = setInterval(load, REFRESH_MS);

  return {
    update(next) {
      service = next.params.get("service") || "";
      load();
    },
    unmount() {
      clearInterval(timer);
      if (controller) controller.abort();
    },
  };
}

/**
 * Where to look next for a service: its logs, its traces, its RED metrics.
 * @param {string} name
 * @returns {HTMLElement}
 */
export function serviceLinks(name) {
  return h("span", { class: "service-links", dataset: { testid: "service-links" } },
    h("a", { href: hrefFor("logs", { q: fieldTerm("service", name) }), text: "logs" }),
    h("a", { href: hrefFor("traces", { service: name }), text: "traces" }),
    h("a", { href: hrefFor("metrics", { service: name }), text: "RED" }));
}
