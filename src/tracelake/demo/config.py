"""The demo's own configuration: three alert rules on payments and a continuous query.

Why written as files: the demo should show what a user would write — a ``tracelake.toml``
and a Prometheus-format rule file — and leave them in its data directory to read and
copy (``<data-dir>/demo-config/``). The server then loads them as it loads any config:
``Settings.load(config_file=...)``, so the environment still overrides them and the
demo's own flags (data dir, host, port) override everything.

The rule file has one rule of each kind, all about the one failure the demo stages
(payments degrading): a log rule on its error lines, a PromQL rule on the counters the
server scrapes from its ``/metrics``, and a breaker rule on its circuit in orders.

Settings this server does not know (a part not installed) are left out of the file, so
the demo runs with whatever the server has.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tracelake.settings import SETTINGS, Settings

CONFIG_DIR = "demo-config"

#: The demo's alert rules, one of each kind (docs/demo.md tells when each fires):
#: payments logging errors, payments' scraped failure counter rising, and payments'
#: circuit in orders staying open past its 5 s sleep window (a trial call failed).
RULES = """\
# Alert rules of `tracelake demo` (Prometheus rule-file format; docs/alerting.md).
groups:
  - name: demo
    interval: 5s
    rules:
      # log rule: error lines of payments in the lake
      - alert: PaymentsFailing
        log_query: "service:payments level:error"
        window: 30s
        threshold: 5
        for: 10s
        labels:
          severity: page
          team: payments
        annotations:
          summary: "payments failed {{ $value }} charges in the last 30 s"
          description: "Charges fail at payments; orders answers with its fallback (payment pending)."

      # PromQL rule: the counter the server scrapes from payments' /metrics
      - alert: PaymentsChargeErrors
        expr: sum by (service) (rate(demo_charges_total{outcome="failed"}[1m])) > 0.05
        for: 5s
        labels:
          severity: ticket
          team: payments
        annotations:
          summary: '{{ $labels.service }} fails {{ printf "%.2f" $value }} charges/s (last minute)'

      # breaker rule: the circuit flips the server records from orders' Hystrix stream
      - alert: PaymentsCircuitOpen
        breaker: payments
        service: orders
        open_for: 10s
        labels:
          severity: ticket
          team: payments
        annotations:
          summary: "circuit {{ $labels.breaker }} of {{ $labels.service }} open for {{ $value | humanizeDuration }}"
          description: "A trial call after the 5 s sleep window failed: payments is still down."
"""

#: Orders per minute by status (placed, payment_pending, backorder), from the business events.
ORDERS_PER_MINUTE: dict[str, Any] = {
    "name": "orders_per_minute",
    "source": "events",
    "filter": "type:order_placed",
    "window": "1m",
    "group_by": ["payload.status"],
    "aggregates": ["count() as orders", "sum(payload.amount) as revenue"],
}


def _toml_value(value: Any) -> str:
    """A TOML value for strings, numbers and lists of them (JSON's syntax is TOML's)."""
    return json.dumps(value)


def render_toml(rule_file: Path, known: set[str]) -> str:
    """The demo's ``tracelake.toml``, with only the settings this server knows."""
    lines = ["# Written by `tracelake demo`: the settings it runs the server with."]
    scalars: dict[str, Any] = {
        "scrape_interval_s": 5.0,
        "registry_ttl_s": 20.0,
        "alert_eval_interval_s": 5.0,
        "alert_rule_files": [str(rule_file)],
        # The demo's services log over HTTP: the stream listeners take free ports (printed),
        # so the demo starts whatever else holds 4560, 5514 or 24224 on this machine.
        "tcp_port": 0,
        "syslog_port": 0,
        "forward_port": 0,
    }
    lines += [f"{k} = {_toml_value(v)}" for k, v in scalars.items() if k in known]
    if "continuous_queries" in known:
        lines += ["", "[[continuous_queries]]"]
        lines += [f"{k} = {_toml_value(v)}" for k, v in ORDERS_PER_MINUTE.items()]
    return "\n".join(lines) + "\n"


def demo_settings(settings: Settings, flags: Mapping[str, Any] | None = None) -> Settings:
    """Write the demo's config files under the data dir and load the settings with them;
    ``flags`` are the command line's own settings (None: not given), above everything."""
    folder = (settings.data_path / CONFIG_DIR).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    known = {s.name for s in SETTINGS}
    rule_file = folder / "rules.yml"
    if "alert_rule_files" in known:
        rule_file.write_text(RULES, encoding="utf-8")
    config = folder / "tracelake.toml"
    config.write_text(render_toml(rule_file, known), encoding="utf-8")
    return Settings.load(
        config_file=config,
        overrides={
            "data_dir": settings.data_dir,
            "host": settings.host,
            "http_port": settings.http_port,
            **(flags or {}),
        },
    )
