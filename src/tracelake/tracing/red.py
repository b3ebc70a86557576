"""RED figures (rate, errors, duration) per service and operation, as one SQL query.

Why SQL over spans rather than counters kept at ingest: it answers any time range the
lake holds, past or present, with exact quantiles, and DuckDB aggregates the pruned
segments fast enough (see benchmarks/bench_tracing.py) that nothing needs keeping.
"""

from __future__ import annotations

from tracelake.tracing.zipkin_query import Compiled


def red_sql(start_us: int, end_us: int, service: str | None, *, every_span: bool) -> Compiled:
    """Rows of service, operation (``None`` = all of the service), calls, errors, p50/95/99.

    Entry spans (SERVER, CONSUMER, and roots) unless ``every_span``; durations in µs.
    """
    where = ["timestamp >= make_timestamptz(?::BIGINT)", "timestamp < make_timestamptz(?::BIGINT)"]
    params: list[object] = [start_us, end_us]
    if service:
        where.append("lower(service) = lower(?)")
        params.append(service)
    if not every_span:
        where.append("(kind IN ('SERVER', 'CONSUMER') OR parent_id IS NULL)")
    sql = f"""
        SELECT service, name AS operation, count(*) AS calls,
               count(*) FILTER (WHERE status = 'error') AS errors,
               quantile_cont(duration_us, 0.5), quantile_cont(duration_us, 0.95),
               quantile_cont(duration_us, 0.99)
        FROM spans WHERE {" AND ".join(where)}
        GROUP BY GROUPING SETS ((service, name), (service))
        ORDER BY service, operation NULLS FIRST
    """  # noqa: S608 - fixed clauses, values bound
    return Compiled(sql, params)


def first_span_sql(start_us: int, end_us: int) -> Compiled:
    """The earliest span of the range, of any service, in µs since the epoch.

    Why: a rate is per second of the time that has data. A range that began before
    tracing did (a demo started two minutes ago, a picker at 15 minutes) would otherwise
    spread the calls over minutes nobody recorded. Every service is measured from the
    same moment, so a service's rate here and on the service map agree.
    """
    sql = """
        SELECT epoch_us(min(timestamp)) FROM spans
        WHERE timestamp >= make_timestamptz(?::BIGINT) AND timestamp < make_timestamptz(?::BIGINT)
    """
    return Compiled(sql, [start_us, end_us])
