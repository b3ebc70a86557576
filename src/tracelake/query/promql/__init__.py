"""PromQL over the lake's ``metrics`` table.

``PromQLEngine`` (engine.py) is the entry point; the evaluator and its operators are
sans-IO numpy code over the value types of ``values.py``:

* ``selectors``  matchers → SQL with bound parameters; rows → numpy series
* ``evaluator``  the syntax tree, evaluated at every step at once
* ``rangefuncs`` rate, irate, increase, delta, ``*_over_time`` …
* ``aggregate``  sum, avg, min, max, count, topk … by/without
* ``binary``     arithmetic, comparison, set operators, vector matching
* ``histogram``  histogram_quantile
* ``functions``  the instant-vector functions
* ``format``     values and times spelled as Prometheus's JSON spells them
* ``aliases``    Prometheus 2 names (holt_winters) the parser does not know
"""

from tracelake.query.promql.engine import PromQLEngine, QueryResult, parse
from tracelake.query.promql.errors import EvaluationError

__all__ = ["EvaluationError", "PromQLEngine", "QueryResult", "parse"]
