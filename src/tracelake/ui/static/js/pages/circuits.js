// Circuits: the Hystrix Dashboard's view of one cluster's `/turbine.stream`, live.
//
// One tile per circuit (HystrixCommand): a circle sized by the request rate per host
// and coloured by the error percentage, a two-minute sparkline of the rate, the
// rolling outcome counters, hosts, the circuit's state and the latency percentiles.
// One tile per thread pool likewise. `#/circuits?cluster=NAME&sort=error&circuit=NAME`:
// `circuit` picks one out (a failing span of the Traces page links here with the
// dependency it called): its tile comes first, marked, and is scrolled to.
// Without a cluster the page is the overview: every cluster's circuits at once (one
// stream, `/api/v1/turbine/overview`), open circuits first, each tile naming its cluster
// as a link to that cluster's view. Sparklines start from the lake's last two minutes
// (circuit-history.js), not empty.

import { getJSON } from "../api.js";
import { lakeHistory } from "../circuit-history.js";
import { h, replace } from "../dom.js";
import {
  DEFAULT_WINDOW_MS, History, SORTS, SPARK_WINDOW_MS, allSemaphores, backfill, circleRadius, circuitStatus,
  commandRate, counters, errorColor, errorPercent, formatMs, formatRate, hostsOf, latency, numberOf, openRank,
  poolFigures, poolRate,
} from "../hystrix.js";
import { hrefFor, navigate } from "../router.js";
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
  const pasts = new Map(); // "type:cluster" → Promise of the lake's points by name

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
  const poolNote = h("div", { class: "muted empty-note", dataset: { testid: "pools-note" } });
  const clusterLinks = h("div", { class: "cluster-links", dataset: { testid: "cluster-links" } });
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
      clusterLinks, commandNote, commandGrid),
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
    pasts.clear();
    replace(commandGrid);
    replace(poolGrid);
    replace(clusterLinks);
  }

  /** Every cluster at once: one stream whose frames are `{cluster, events}`. */
  function watchAll() {
    commandNote.textContent = "Waiting for the clusters' circuits…";
    poolNote.textContent = "";
    setStatus("connecting", "connecting…");
    const es = new EventSource("/api/v1/turbine/overview");
    source = es;
    es.onopen = () => {
      if (source === es) setStatus("open", "live: all clusters");
    };
    es.onmessage = (message) => {
      if (source !== es) return;
      let frame;
      try {
        frame = JSON.parse(message.data);
      } catch {
        return;
      }
      if (Array.isArray(frame.clusters)) {
        showClusters(frame.clusters.map(String));
        return;
      }
      for (const event of frame.events || []) receive(event, String(frame.cluster ?? ""));
    };
    es.onerror = () => {
      if (source === es) setStatus("connecting", "reconnecting…");
    };
  }

  function showClusters(list) {
    replace(clusterLinks, list.length ? h("span", { class: "muted", text: "Clusters:" }) : null,
      list.map((c) => h("a", { class: "mono", href: hrefFor("circuits", { cluster: c }), text: c, dataset: { testid: "cluster-link" } })));
    if (!list.length) {
      commandNote.textContent = "No cluster yet: services that register with a Hystrix stream, and the turbine_clusters setting, are clusters.";
    } else if (!commands.size) {
      commandNote.textContent = `Waiting for the circuits of ${list.join(", ")}…`;
    }
  }

  function watch() {
    stop();
    if (!cluster) {
      watchAll();
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

  /** Fill a new tile's sparkline from the lake (one query per cluster and type). */
  function fillFromLake(type, from, name, key, entry) {
    const id = `${type}:${from}`;
    if (!pasts.has(id)) pasts.set(id, lakeHistory(from, type));
    const table = type === "HystrixThreadPool" ? pools : commands;
    pasts.get(id).then((byName) => {
      const past = byName.get(name);
      if (!past || !past.length || table.get(key) !== entry) return;
      const windowS = (numberOf(entry.event.propertyValue_metricsRollingStatisticalWindowInMilliseconds, DEFAULT_WINDOW_MS) || DEFAULT_WINDOW_MS) / 1000;
      const points = backfill(history, `${type}:${key}`, type === "HystrixCommand" ? past.map(([t, v]) => [t, v / windowS]) : past);
      entry.tile.el.dataset.history = String(past.length);
      entry.tile.update(entry.event, points);
    });
  }

  function receive(event, from = cluster) {
    const name = String(event.name ?? "");
    const key = cluster ? name : `${from}\u0000${name}`;
    if (event.deleteData === "true" || event.deleteData === true) {
      const table = event.type === "HystrixThreadPool" ? pools : commands;
      const known = table.get(key);
      if (known) known.tile.el.remove();
      table.delete(key);
      history.delete(`${event.type}:${key}`);
      return;
    }
    if (event.type === "HystrixCommand") {
      let entry = commands.get(key);
      if (!entry) {
        entry = { event, cluster: from, tile: commandTile(name, cluster ? "" : from) };
        commands.set(key, entry);
        fillFromLake("HystrixCommand", from, name, key, entry);
        if (focus && name === focus) {
          commandGrid.prepend(entry.tile.el);
          markFocus();
          entry.tile.el.scrollIntoView({ block: "nearest" });
        } else commandGrid.append(entry.tile.el);
        commandNote.textContent = "";
      }
      entry.event = event;
      const points = history.add(`HystrixCommand:${key}`, Date.now(), commandRate(event).cluster);
      entry.tile.update(event, points);
    } else if (event.type === "HystrixThreadPool") {
      let entry = pools.get(key);
      if (!entry) {
        entry = { event, cluster: from, tile: poolTile(name, cluster ? "" : from) };
        pools.set(key, entry);
        poolGrid.append(entry.tile.el);
        poolNote.textContent = "";
        fillFromLake("HystrixThreadPool", from, name, key, entry);
      }
      entry.event = event;
      const points = history.add(`HystrixThreadPool:${key}`, Date.now(), poolRate(event).cluster);
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

  /** Why the Thread pools panel is empty, once circuits are known. */
  function explainPools() {
    if (pools.size || !commands.size) return;
    const events = [...commands.values()].map((e) => e.event);
    poolNote.textContent = allSemaphores(events)
      ? `These circuits run on semaphores (execution.isolation.strategy = SEMAPHORE): no thread pools to show.`
      : "No thread pool has reported yet: circuits on thread isolation report theirs with their next events.";
  }

  function resort() {
    explainPools();
    const compare = (SORTS.find(([id]) => id === sortId) || SORTS[0])[2];
    const pinned = (entry) => (focus && String(entry.event.name ?? "") === focus ? 0 : 1);
    // the overview puts open circuits first, whatever the sort, so none is missed
    const open = (entry) => (cluster ? 0 : openRank(entry.event));
    const ordered = [...commands.values()].sort((a, b) => pinned(a) - pinned(b) || open(a) - open(b) || compare(a.event, b.event)
      || String(a.cluster).localeCompare(String(b.cluster)));
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

/** The parts of a tile every kind shares: title (and, in the overview, its cluster), circle, sparkline. */
function tileFrame(kind, name, cluster) {
  const circle = h("div", { class: "circle", attrs: { "aria-hidden": "true" } });
  const spark = h("canvas", { class: "spark", width: 150, height: 44, attrs: { "aria-label": "rate over the last 2 minutes", role: "img" } });
  const title = h("div", { class: "tile-title" }, h("span", { class: "tile-name mono", text: name, title: name }));
  const el = h("article", { class: `circuit-tile ${kind}`, dataset: { testid: kind, name, cluster } },
    cluster ? h("a", { class: "tile-cluster mono", href: hrefFor("circuits", { cluster }), text: cluster, title: `the ${cluster} cluster`, dataset: { testid: "tile-cluster" } }) : null,
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
function commandTile(name, cluster) {
  const frame = tileFrame("circuit", name, cluster);
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
function poolTile(name, cluster) {
  const frame = tileFrame("pool", name, cluster);
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
