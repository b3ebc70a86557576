// Circuits: the Hystrix Dashboard's view of one cluster's `/turbine.stream`, live.
//
// One tile per circuit (HystrixCommand): a circle sized by the request rate per host
// and coloured by the error percentage, a two-minute sparkline of the rate, the
// rolling outcome counters, hosts, the circuit's state and the latency percentiles.
// One tile per thread pool likewise. `#/circuits?cluster=NAME&sort=error&circuit=NAME`:
// `circuit` picks one out (a failing span of the Traces page links here with the
// dependency it called): its tile comes first, marked, and is scrolled to.

import { getJSON } from "../api.js";
import { h, replace } from "../dom.js";
import {
  History, SORTS, SPARK_WINDOW_MS, circleRadius, circuitStatus, commandRate, counters, errorColor,
  errorPercent, formatMs, formatRate, hostsOf, latency, numberOf, poolFigures, poolRate,
} from "../hystrix.js";
import { navigate } from "../router.js";
import { drawSparkline } from "../sparkline.js";

const RESORT_MS = 2000;

/**
 * Mount the Circuits page.
 * @param {HTMLElement} root
 * @param {import("../router.js").Route} route
 * @returns {{update: (route: import("../router.js").Route) => void, unmount: () => void}}
 */
export function mount(root, route) {
  let cluster = route.params.get("cluster") || "";
  let sortId = route.params.get("sort") || "error";
  let focus = route.params.get("circuit") || "";
  let source = null;
  let probe = null;
  let resortTimer = null;
  const commands = new Map(); // name → {event, tile}
  const pools = new Map();
  const history = new History();

  const input = h("input", {
    class: "query-input cluster-input", type: "text", value: cluster, placeholder: "cluster (a service name)",
    spellcheck: false, attrs: { "aria-label": "Cluster", list: "cluster-names", autocomplete: "off" }, dataset: { testid: "cluster" },
  });
  const names = h("datalist", { id: "cluster-names" });
  const sort = h("select", { class: "select", attrs: { "aria-label": "Sort circuits" }, dataset: { testid: "sort" } },
    SORTS.map(([id, label]) => h("option", { value: id, text: `Sort: ${label}`, selected: id === sortId })));
  const status = h("span", { class: "stream-status", dataset: { testid: "stream-status", state: "idle" } });
  const commandGrid = h("div", { class: "circuit-grid", dataset: { testid: "circuits" } });
  const poolGrid = h("div", { class: "circuit-grid", dataset: { testid: "pools" } });
  const commandNote = h("div", { class: "muted empty-note" });
  const poolNote = h("div", { class: "muted empty-note" });
  const form = h("form", { class: "toolbar", onsubmit: (e) => { e.preventDefault(); go(input.value.trim()); } },
    h("h1", { class: "page-title", text: "Circuits" }),
    input, names,
    h("button", { type: "submit", class: "btn primary", text: "Watch" }),
    sort,
    h("span", { class: "toolbar-spacer" }),
    status);
  sort.addEventListener("change", () => {
    sortId = sort.value;
    navigate("circuits", { cluster, sort: sortId === "error" ? "" : sortId, circuit: focus }, { replace: true });
  });

  replace(root,
    h("div", { class: "panel" }, form),
    h("section", { class: "panel circuits-panel" },
      h("div", { class: "results-head" }, h("h2", { text: "Circuits" }),
        h("span", { class: "muted legend-hint", text: "circle: requests/s per host (size), error % (colour: green ≤10 %, yellow 25, orange 40, red ≥50) · line: the last 2 minutes" })),
      commandNote, commandGrid),
    h("section", { class: "panel circuits-panel" },
      h("div", { class: "results-head" }, h("h2", { text: "Thread pools" }),
        h("span", { class: "muted legend-hint", text: "circle: executions/s per host (size), queued per host (colour)" })),
      poolNote, poolGrid));

  function go(name) {
    navigate("circuits", { cluster: name, sort: sortId === "error" ? "" : sortId });
  }

  function setStatus(state, text) {
    status.dataset.state = state;
    status.textContent = text;
  }

  async function loadClusterNames() {
    try {
      const answer = await getJSON("/api/v1/registry/services");
      const services = (answer && answer.services) || [];
      replace(names, services.map((s) => h("option", { value: String(s.name) })));
      if (!cluster && services.length) {
        commandNote.textContent = `Pick a cluster: ${services.map((s) => s.name).join(", ")}.`;
      }
    } catch {
      // No registry on this server: clusters come from the turbine_clusters setting only.
    }
  }

  function stop() {
    if (source) source.close();
    source = null;
    if (probe) probe.abort();
    probe = null;
    commands.clear();
    pools.clear();
    history.series.clear();
    replace(commandGrid);
    replace(poolGrid);
  }

  function watch() {
    stop();
    if (!cluster) {
      setStatus("idle", "");
      commandNote.textContent = "Name a cluster to watch: a service in the registry or a cluster of the turbine_clusters setting.";
      poolNote.textContent = "";
      return;
    }
    commandNote.textContent = `Waiting for ${cluster}'s circuits…`;
    poolNote.textContent = "";
    setStatus("connecting", "connecting…");
    const es = new EventSource(`/turbine.stream?cluster=${encodeURIComponent(cluster)}`);
    source = es;
    es.onopen = () => {
      if (source === es) setStatus("open", `live: ${cluster}`);
    };
    es.onmessage = (message) => {
      if (source !== es) return;
      let event;
      try {
        event = JSON.parse(message.data);
      } catch {
        return;
      }
      receive(event);
    };
    es.onerror = () => {
      if (source !== es) return;
      if (es.readyState === EventSource.CLOSED) explainClosed(es);
      else setStatus("connecting", "reconnecting…");
    };
  }

  /** The stream was refused: ask once why (404 is an unknown cluster). */
  async function explainClosed(es) {
    setStatus("closed", "disconnected");
    probe = new AbortController();
    try {
      const response = await fetch(`/turbine.stream?cluster=${encodeURIComponent(cluster)}`, { signal: probe.signal });
      probe.abort();
      if (source !== es) return;
      commandNote.textContent = response.status === 404
        ? `No cluster named ${cluster}: clusters are the services in the registry and the turbine_clusters setting.`
        : `The stream of ${cluster} failed (HTTP ${response.status}).`;
    } catch (error) {
      if (source === es && error.name !== "AbortError") commandNote.textContent = `Cannot reach the server: ${error.message}`;
    }
  }

  function receive(event) {
    const name = String(event.name ?? "");
    if (event.deleteData === "true" || event.deleteData === true) {
      const table = event.type === "HystrixThreadPool" ? pools : commands;
      const known = table.get(name);
      if (known) known.tile.el.remove();
      table.delete(name);
      history.delete(`${event.type}:${name}`);
      return;
    }
    if (event.type === "HystrixCommand") {
      let entry = commands.get(name);
      if (!entry) {
        entry = { event, tile: commandTile(name) };
        commands.set(name, entry);
        if (focus && name === focus) {
          commandGrid.prepend(entry.tile.el);
          markFocus();
          entry.tile.el.scrollIntoView({ block: "nearest" });
        } else commandGrid.append(entry.tile.el);
        commandNote.textContent = "";
      }
      entry.event = event;
      const points = history.add(`HystrixCommand:${name}`, Date.now(), commandRate(event).cluster);
      entry.tile.update(event, points);
    } else if (event.type === "HystrixThreadPool") {
      let entry = pools.get(name);
      if (!entry) {
        entry = { event, tile: poolTile(name) };
        pools.set(name, entry);
        poolGrid.append(entry.tile.el);
        poolNote.textContent = "";
      }
      entry.event = event;
      const points = history.add(`HystrixThreadPool:${name}`, Date.now(), poolRate(event).cluster);
      entry.tile.update(event, points);
    }
  }

  /** Mark the tile of the circuit the URL names, and only that one (`aria-current`). */
  function markFocus() {
    for (const [name, entry] of commands) {
      if (focus && name === focus) entry.tile.el.setAttribute("aria-current", "true");
      else entry.tile.el.removeAttribute("aria-current");
    }
  }

  function resort() {
    const compare = (SORTS.find(([id]) => id === sortId) || SORTS[0])[2];
    const pinned = (entry) => (focus && String(entry.event.name ?? "") === focus ? 0 : 1);
    const ordered = [...commands.values()].sort((a, b) => pinned(a) - pinned(b) || compare(a.event, b.event));
    if (ordered.some((entry, i) => commandGrid.children[i] !== entry.tile.el)) {
      commandGrid.append(...ordered.map((entry) => entry.tile.el));
    }
    const poolOrder = [...pools.values()].sort((a, b) => String(a.event.name).localeCompare(String(b.event.name)));
    if (poolOrder.some((entry, i) => poolGrid.children[i] !== entry.tile.el)) {
      poolGrid.append(...poolOrder.map((entry) => entry.tile.el));
    }
  }

  loadClusterNames();
  watch();
  resortTimer = setInterval(resort, RESORT_MS);

  return {
    update(next) {
      const nextCluster = next.params.get("cluster") || "";
      const nextSort = next.params.get("sort") || "error";
      const nextFocus = next.params.get("circuit") || "";
      if (nextFocus !== focus) {
        focus = nextFocus;
        markFocus();
        resort();
      }
      if (nextSort !== sortId) {
        sortId = nextSort;
        sort.value = sortId;
        resort();
      }
      if (nextCluster !== cluster || !source) {
        cluster = nextCluster;
        input.value = cluster;
        watch();
      }
    },
    unmount() {
      stop();
      clearInterval(resortTimer);
    },
  };
}

/** The parts of a tile every kind shares: title, circle, sparkline. */
function tileFrame(kind, name) {
  const circle = h("div", { class: "circle", attrs: { "aria-hidden": "true" } });
  const spark = h("canvas", { class: "spark", width: 150, height: 44, attrs: { "aria-label": "rate over the last 2 minutes", role: "img" } });
  const title = h("div", { class: "tile-title" }, h("span", { class: "tile-name mono", text: name, title: name }));
  const el = h("article", { class: `circuit-tile ${kind}`, dataset: { testid: kind, name } },
    title,
    h("div", { class: "tile-visual" }, h("div", { class: "circle-box" }, circle), spark));
  return { el, title, circle, spark };
}

function setCircle(circle, radius, color) {
  const size = `${Math.round(radius * 2)}px`;
  circle.style.width = size;
  circle.style.height = size;
  circle.style.background = color;
}

function figure(label, testid) {
  const value = h("b", { dataset: { testid } });
  return { el: h("span", { class: "fig" }, h("span", { class: "muted", text: label }), " ", value), value };
}

/** One circuit's tile; `update` writes a new event into it. */
function commandTile(name) {
  const frame = tileFrame("circuit", name);
  const group = h("span", { class: "tile-group muted" });
  frame.title.append(group);
  const errorPct = h("span", { class: "error-pct", dataset: { testid: "error-pct" } });
  const counterBox = h("div", { class: "counters" });
  const counterCells = new Map();
  const hostRate = figure("Host:", "host-rate");
  const clusterRate = figure("Cluster:", "cluster-rate");
  const state = h("span", { class: "circuit-state", dataset: { testid: "circuit-state" } });
  const hosts = figure("Hosts", "hosts");
  const mean = figure("Mean", "mean");
  const pcts = new Map();
  const latencyBox = h("div", { class: "latency" }, hosts.el, mean.el);
  frame.el.append(
    h("div", { class: "tile-row" }, counterBox, errorPct),
    h("div", { class: "tile-row rates" }, hostRate.el, clusterRate.el),
    h("div", { class: "tile-row" }, h("span", { class: "muted", text: "Circuit" }), state),
    latencyBox);

  return {
    el: frame.el,
    update(event, points) {
      const rate = commandRate(event);
      const pct = errorPercent(event);
      setCircle(frame.circle, circleRadius(rate.host), errorColor(pct));
      frame.circle.title = `${formatRate(rate.host)} requests/s per host, ${pct.toFixed(1)} % errors`;
      drawSparkline(frame.spark, points, { windowMs: SPARK_WINDOW_MS });
      group.textContent = event.group === undefined ? "" : ` ${typeof event.group === "object" ? JSON.stringify(event.group) : event.group}`;
      errorPct.textContent = `${pct.toFixed(1)} %`;
      errorPct.className = `error-pct ${pct >= 50 ? "bad" : pct >= 35 ? "warn" : pct > 10 ? "some" : pct > 0 ? "low" : "none"}`;
      for (const c of counters(event)) {
        let cell = counterCells.get(c.kind);
        if (!cell || cell.dataset.key !== c.key) {
          if (cell) cell.remove();
          cell = h("span", { class: `count ${c.kind}`, title: c.label, dataset: { testid: `count-${c.kind}`, key: c.key } });
          counterCells.set(c.kind, cell);
          const order = ["success", "short", "bad", "timeout", "rejected", "failure"];
          replace(counterBox, ...order.map((k) => counterCells.get(k)).filter(Boolean));
        }
        cell.textContent = String(c.value);
      }
      hostRate.value.textContent = `${formatRate(rate.host)}/s`;
      clusterRate.value.textContent = `${formatRate(rate.cluster)}/s`;
      const circuit = circuitStatus(event);
      state.textContent = circuit.text;
      state.className = `circuit-state ${circuit.state}`;
      frame.el.dataset.state = circuit.state;
      frame.el.dataset.requests = String(numberOf(event.requestCount));
      const n = hostsOf(event);
      hosts.value.textContent = n === 1 ? "Single" : String(n);
      const lat = latency(event);
      mean.value.textContent = formatMs(lat.mean);
      for (const [label, ms] of lat.percentiles) {
        let fig = pcts.get(label);
        if (!fig) {
          fig = figure(label, `p-${label}`);
          pcts.set(label, fig);
          latencyBox.append(fig.el);
        }
        fig.value.textContent = formatMs(ms);
      }
    },
  };
}

/** One thread pool's tile. */
function poolTile(name) {
  const frame = tileFrame("pool", name);
  const figures = h("div", { class: "latency pool-figures" });
  const cells = new Map();
  const hostRate = figure("Host:", "host-rate");
  const clusterRate = figure("Cluster:", "cluster-rate");
  frame.el.append(h("div", { class: "tile-row rates" }, hostRate.el, clusterRate.el), figures);
  return {
    el: frame.el,
    update(event, points) {
      const rate = poolRate(event);
      const queued = numberOf(event.currentQueueSize) / hostsOf(event);
      // The dashboard colours a pool by its queue, on the same scale as error %.
      setCircle(frame.circle, circleRadius(rate.host, 6, 42, 2000), errorColor(queued));
      drawSparkline(frame.spark, points, { windowMs: SPARK_WINDOW_MS });
      hostRate.value.textContent = `${formatRate(rate.host)}/s`;
      clusterRate.value.textContent = `${formatRate(rate.cluster)}/s`;
      for (const [label, value] of [["Hosts", hostsOf(event)], ...poolFigures(event)]) {
        let fig = cells.get(label);
        if (!fig) {
          fig = figure(label, `pool-${label.toLowerCase().replace(/\s+/g, "-")}`);
          cells.set(label, fig);
          figures.append(fig.el);
        }
        fig.value.textContent = String(Math.round(value * 10) / 10);
      }
    },
  };
}
