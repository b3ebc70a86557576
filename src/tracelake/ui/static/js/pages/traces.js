// Traces: the trace view arrives with tracing; a trace id already links to its logs.

import { h } from "../dom.js";
import { hrefFor } from "../router.js";
import { fieldTerm } from "../query.js";
import { comingSoon } from "./placeholder.js";

/**
 * Mount the Traces page (`#/traces` or `#/traces/<trace_id>`).
 * @param {HTMLElement} root
 * @param {import("../router.js").Route} route
 * @returns {{update: (route: import("../router.js").Route) => void}}
 */
export function mount(root, route) {
  const render = (r) => {
    const traceId = r.rest[0] || "";
    const extra = traceId
      ? h("div", { class: "trace-ref" },
        h("p", {}, "Trace ", h("code", { class: "mono", text: traceId, dataset: { testid: "trace-id" } })),
        h("a", {
          class: "btn primary", text: "Logs of this trace",
          href: hrefFor("logs", { q: fieldTerm("trace_id", traceId), from: "-7d" }),
          dataset: { testid: "trace-logs" },
        }))
      : null;
    comingSoon(root, {
      title: "Traces",
      arrives: "tracing",
      what: "Search traces by service, operation, duration and tags, and open one as a waterfall of its spans with their logs alongside.",
      extra,
    });
  };
  render(route);
  return { update: render };
}
