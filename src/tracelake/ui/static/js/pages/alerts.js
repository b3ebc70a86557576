// Alerts: what is firing or pending now, every rule with its state, and the history of changes.
// Reads the Prometheus-shaped `/api/v1/alerts`, `/api/v1/rules` and `/api/v1/alerts/history`,
// and `/api/v1/silences`; refreshed every few seconds. An active alert can be silenced (its
// name, for a while) or acknowledged (that alert, until it resolves or the time is up):
// either way its receivers hear nothing meanwhile.

import { deleteJSON, getJSON, postJSON } from "../api.js";
import { formatAgo, formatNumber, formatTime, h, replace } from "../dom.js";

const REFRESH_MS = 5000;
const HISTORY_ROWS = 200;
const STATE_ORDER = { firing: 0, pending: 1, inactive: 2 };
const DURATIONS = ["15m", "1h", "4h", "1d"];

/**
 * Label pairs as separate text chips (alertname first).
 * @param {Record<string, string>|undefined} labels
 * @param {string[]} [skip] label names left out
 * @returns {HTMLElement[]}
 */
function labelChips(labels, skip = []) {
  const entries = Object.entries(labels || {}).filter(([k]) => !skip.includes(k));
  entries.sort(([a], [b]) => (a === "alertname" ? -1 : b === "alertname" ? 1 : a.localeCompare(b)));
  return entries.map(([k, v]) => h("span", { class: "kv-pair mono", text: `${k}=${v}` }));
}

function badge(state) {
  const s = String(state || "").toLowerCase();
  return h("span", { class: `state-badge ${s}`, text: s || "?", dataset: { testid: "state" } });
}

/**
 * Mount the Alerts page.
 * @param {HTMLElement} root
 * @returns {{unmount: () => void}}
 */
export function mount(root) {
  let controller = null;
  const summary = h("div", { class: "alert-summary", dataset: { testid: "alert-summary" } });
  const errorBox = h("div", { class: "note error-text", hidden: true, attrs: { role: "alert" }, dataset: { testid: "error" } });
  const active = h("div", { class: "alerts-active" });
  const rules = h("div", { class: "alerts-rules" });
  const history = h("div", { class: "alerts-history" });
  const silenceList = h("div", { class: "alerts-silences" });
  const duration = h("select", { class: "select", attrs: { "aria-label": "Silence or acknowledge for" }, dataset: { testid: "quiet-for" } },
    DURATIONS.map((d) => h("option", { value: d, text: `for ${d}`, selected: d === "1h" })));
  let silencesById = new Map();

  replace(root,
    h("div", { class: "panel" },
      h("div", { class: "toolbar panel-toolbar" },
        h("h1", { class: "page-title", text: "Alerts" }), summary, h("span", { class: "toolbar-spacer" }),
        h("button", { type: "button", class: "btn", text: "Refresh", onclick: () => load() }))),
    errorBox,
    h("section", { class: "panel" }, h("div", { class: "results-head" }, h("h2", { text: "Firing and pending" }),
      h("span", { class: "muted legend-hint", text: "silence or acknowledge" }), duration), active),
    h("section", { class: "panel" }, h("div", { class: "results-head" }, h("h2", { text: "Silences" }),
      h("span", { class: "muted legend-hint", text: "silenced and acknowledged alerts notify nobody until the time is up; an acknowledgement also ends when its alert resolves" })), silenceList),
    h("section", { class: "panel" }, h("div", { class: "results-head" }, h("h2", { text: "Rules" }),
      h("span", { class: "muted legend-hint", text: "inactive → pending (condition true) → firing (true for the rule's for:) → resolved" })), rules),
    h("section", { class: "panel" }, h("div", { class: "results-head" }, h("h2", { text: "History" }),
      h("span", { class: "muted legend-hint", text: "every state change, newest first" })), history));

  async function load() {
    if (controller) controller.abort();
    controller = new AbortController();
    const signal = controller.signal;
    const [alerts, ruleAnswer, events, silences] = await Promise.allSettled([
      getJSON("/api/v1/alerts", {}, signal),
      getJSON("/api/v1/rules", {}, signal),
      getJSON("/api/v1/alerts/history", { limit: HISTORY_ROWS }, signal),
      getJSON("/api/v1/silences", {}, signal),
    ]);
    if (signal.aborted) return;
    if (silences.status === "fulfilled") renderSilences(silences.value.data || []);
    const failed = [alerts, ruleAnswer, events].find((r) => r.status === "rejected");
    if (failed) {
      const error = failed.reason;
      errorBox.textContent = error.status === 404
        ? "This server has no alerting (GET /api/v1/alerts answered 404): add alert_rule_files to tracelake.toml."
        : `Alerts unavailable: ${error.message}`;
      errorBox.hidden = false;
    } else {
      errorBox.hidden = true;
    }
    if (alerts.status === "fulfilled") renderActive((alerts.value.data || {}).alerts || []);
    if (ruleAnswer.status === "fulfilled") renderRules((ruleAnswer.value.data || {}).groups || []);
    if (events.status === "fulfilled") renderHistory((events.value.data || {}).events || []);
  }

  function renderActive(list) {
    const firing = list.filter((a) => a.state === "firing").length;
    const pending = list.filter((a) => a.state === "pending").length;
    replace(summary,
      h("span", { class: `state-count firing${firing ? "" : " zero"}`, text: `${firing} firing`, dataset: { testid: "firing-count" } }),
      h("span", { class: `state-count pending${pending ? "" : " zero"}`, text: `${pending} pending`, dataset: { testid: "pending-count" } }));
    if (!list.length) {
      replace(active, h("div", { class: "muted empty-note", text: "Nothing is firing or pending." }));
      return;
    }
    const now = Date.now();
    const sorted = [...list].sort((a, b) => (STATE_ORDER[a.state] ?? 3) - (STATE_ORDER[b.state] ?? 3));
    replace(active, h("div", { class: "table-scroll" }, h("table", { class: "data-table", dataset: { testid: "active-alerts" } },
      h("thead", {}, h("tr", {}, ["State", "Alert", "Labels", "Value", "Active since", "Summary", ""].map((c) => h("th", { scope: "col", text: c })))),
      h("tbody", {}, sorted.map((a) => {
        const labels = a.labels || {};
        const annotations = a.annotations || {};
        const quiet = (a.silencedBy || []).map((id) => silencesById.get(id)).filter(Boolean);
        return h("tr", { dataset: { testid: "alert", alert: String(labels.alertname ?? ""), state: String(a.state) } },
          h("td", {}, badge(a.state)),
          h("td", { class: "mono alert-name", text: String(labels.alertname ?? "") }),
          h("td", {}, h("div", { class: "chips" }, labelChips(labels, ["alertname"]))),
          h("td", { class: "mono num", text: formatNumber(a.value), title: String(a.value ?? ""), dataset: { testid: "alert-value" } }),
          h("td", { text: a.activeAt ? formatAgo(a.activeAt, now) : "", title: a.activeAt ? formatTime(a.activeAt) : "" }),
          h("td", { class: "annotation" },
            h("div", { text: String(annotations.summary ?? "") }),
            annotations.description ? h("div", { class: "muted", text: String(annotations.description) }) : null),
          h("td", { class: "alert-actions" }, quiet.length
            ? quiet.map((q) => h("div", { class: "muted", dataset: { testid: "quiet" }, text: `${q.kind === "ack" ? "acknowledged" : "silenced"} until ${formatTime(q.endsAt).slice(11, 16)}` }))
            : [
              h("button", { type: "button", class: "btn", text: "Acknowledge", dataset: { testid: "ack" }, title: "this alert notifies nobody until it resolves or the time is up",
                onclick: () => quieten("ack", labels) }),
              h("button", { type: "button", class: "btn", text: "Silence", dataset: { testid: "silence" }, title: `every ${labels.alertname} alert notifies nobody for the time chosen`,
                onclick: () => quieten("silence", { alertname: labels.alertname }) }),
            ]));
      })))));
  }

  async function quieten(kind, matchers) {
    try {
      await postJSON("/api/v1/silences", { kind, matchers, duration: duration.value, createdBy: "ui" });
      errorBox.hidden = true;
    } catch (error) {
      errorBox.textContent = error.status === 403
        ? `Not allowed to ${kind === "ack" ? "acknowledge" : "silence"}: ${error.message}`
        : `Could not ${kind === "ack" ? "acknowledge" : "silence"}: ${error.message}`;
      errorBox.hidden = false;
    }
    load();
  }

  function renderSilences(list) {
    silencesById = new Map(list.filter((s) => s.active).map((s) => [s.id, s]));
    const shown = list.filter((s) => s.active);
    if (!shown.length) {
      replace(silenceList, h("div", { class: "muted empty-note", text: "No silence or acknowledgement in force." }));
      return;
    }
    replace(silenceList, h("div", { class: "table-scroll" }, h("table", { class: "data-table", dataset: { testid: "silences" } },
      h("thead", {}, h("tr", {}, ["Kind", "Matching", "Until", "By", ""].map((c) => h("th", { scope: "col", text: c })))),
      h("tbody", {}, shown.map((s) => h("tr", { dataset: { testid: "silence-row", kind: String(s.kind) } },
        h("td", { text: s.kind === "ack" ? "acknowledged" : "silenced" }),
        h("td", {}, h("div", { class: "chips" }, labelChips(s.matchers))),
        h("td", { text: formatTime(s.endsAt).slice(0, 16), title: formatTime(s.endsAt) }),
        h("td", { class: "muted", text: String(s.createdBy || "") }),
        h("td", {}, h("button", { type: "button", class: "btn", text: "End now", dataset: { testid: "expire" },
          onclick: async () => {
            try {
              await deleteJSON(`/api/v1/silences/${encodeURIComponent(s.id)}`);
            } catch (error) {
              errorBox.textContent = `Could not end it: ${error.message}`;
              errorBox.hidden = false;
            }
            load();
          } }))))))));
  }

  function renderRules(groups) {
    if (!groups.length) {
      replace(rules, h("div", { class: "muted empty-note", text: "No alert rules are loaded (setting alert_rule_files; see docs/alerting.md)." }));
      return;
    }
    replace(rules, groups.map((g) => h("div", { class: "rule-group", dataset: { testid: "rule-group", group: String(g.name) } },
      h("div", { class: "rule-group-head" },
        h("b", { class: "mono", text: String(g.name) }),
        h("span", { class: "muted", text: ` ${String(g.file ?? "").split("/").pop()} · every ${g.interval ?? "?"} s`, title: String(g.file ?? "") })),
      h("table", { class: "data-table rules-table" },
        h("thead", {}, h("tr", {}, ["State", "Rule", "Query", "For", "Labels", "Health", "Last evaluation"].map((c) => h("th", { scope: "col", text: c })))),
        h("tbody", {}, (g.rules || []).map((r) => h("tr", { dataset: { testid: "rule", rule: String(r.name), state: String(r.state ?? "") } },
          h("td", {}, badge(r.state ?? (r.type === "recording" ? "recording" : ""))),
          h("td", { class: "mono", text: String(r.name) }),
          h("td", {}, r.link
            ? h("a", { href: String(r.link), class: "rule-link", title: "open what this rule queries", dataset: { testid: "rule-link" } }, h("code", { class: "rule-query", text: String(r.query ?? "") }))
            : h("code", { class: "rule-query", text: String(r.query ?? "") })),
          h("td", { class: "mono", text: r.duration ? `${r.duration} s` : "" }),
          h("td", {}, h("div", { class: "chips" }, labelChips(r.labels))),
          h("td", { class: r.health === "ok" ? "" : "error-text", text: String(r.health ?? ""), title: String(r.lastError ?? "") }),
          h("td", { text: r.lastEvaluation ? formatTime(r.lastEvaluation).slice(0, 19) : "" }))))))));
  }

  function renderHistory(events) {
    if (!events.length) {
      replace(history, h("div", { class: "muted empty-note", text: "No alert has changed state yet." }));
      return;
    }
    replace(history, h("div", { class: "table-scroll" }, h("table", { class: "data-table", dataset: { testid: "history" } },
      h("thead", {}, h("tr", {}, ["Time", "Alert", "Labels", "Change", "Value"].map((c) => h("th", { scope: "col", text: c })))),
      h("tbody", {}, events.map((e) => h("tr", { dataset: { testid: "history-row", alert: String(e.alert ?? ""), to: String(e.to ?? "") } },
        h("td", { class: "mono", text: formatTime(e.time).slice(0, 19) }),
        h("td", { class: "mono", text: String(e.alert ?? "") }),
        h("td", {}, h("div", { class: "chips" }, labelChips(e.labels, ["alertname"]))),
        h("td", {}, badge(e.from), h("span", { class: "muted", text: " → " }), badge(e.to)),
        h("td", { class: "mono num", text: formatNumber(e.value), title: String(e.value ?? ""), dataset: { testid: "history-value" } })))))));
  }

  load();
  const timer = setInterval(load, REFRESH_MS);
  return {
    unmount() {
      clearInterval(timer);
      if (controller) controller.abort();
    },
  };
}
