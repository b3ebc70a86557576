"""LogQL, Loki's query language, over the lake's ``logs`` table.

Hand-written because no maintained Python LogQL parser exists: PyPI has
``logql-to-logsql`` (a translator to VictoriaLogs' LogsQL, not a syntax tree we could
compile) and nothing else; Grafana's own grammars are JavaScript (``@grafana/lezer-logql``).

* ``lexer``/``parser`` text → the tree in ``ast`` (errors worded as Loki's parser)
* ``sql``       selectors and line filters → DuckDB SQL with bound parameters
* ``labels``    a row as stream labels, structured metadata and a line
* ``pipeline``  parsers, label filters and formatters over rows (``template``: Go's)
* ``vectors``   metric values over steps and the operators on them (numpy)
* ``engine``    runs a query: SQL where it can, Python stages where it must
"""

from tracelake.query.logql.engine import Answer, LogQLEngine
from tracelake.query.logql.errors import LogQLError, LogQLSyntaxError
from tracelake.query.logql.parser import parse

__all__ = ["Answer", "LogQLEngine", "LogQLError", "LogQLSyntaxError", "parse"]
