"""The search language: query text in, one parameterised DuckDB statement out.

Sans-IO: nothing here touches a database, so the compiler is fast to test and the
store stays free to choose what ``logs`` is. Pipeline: ``lexer`` → ``parser`` (tree in
``ast``) → ``sql``. docs/query-language.md describes the language.
"""

from __future__ import annotations

from tracelake.query.parser import parse
from tracelake.query.sql import CompiledQuery, compile_query

__all__ = ["CompiledQuery", "compile_query", "parse"]
