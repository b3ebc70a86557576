"""JSONFormatter fields, TracelakeHandler delivery and configure_logging.

Delivery is checked against a real local HTTP receiver (gzip NDJSON in, the server's
200 JSON answer out); the formatter is checked field by field.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

from tests.sdk.receiver import Receiver
from tracelake.sdk.logging import (
    DEFAULT_ENDPOINT,
    JSONFormatter,
    TracelakeHandler,
    configure_logging,
)
from tracelake.sdk.middleware import bind_request_id

SRC = str(Path(__file__).resolve().parents[2] / "src")
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


class ListHandler(logging.Handler):
    """Keeps formatted lines in memory."""

    def __init__(self, formatter: logging.Formatter) -> None:
        super().__init__()
        self.setFormatter(formatter)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    @property
    def objects(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines]


@pytest.fixture
def logger() -> Iterator[logging.Logger]:
    log = logging.getLogger(f"tests.sdk.logging.{time.monotonic_ns()}")
    log.setLevel(logging.DEBUG)
    log.propagate = False
    yield log
    for handler in list(log.handlers):
        log.removeHandler(handler)
        handler.close()


def capture(logger: logging.Logger, formatter: JSONFormatter | None = None) -> ListHandler:
    handler = ListHandler(formatter or JSONFormatter("checkout"))
    logger.addHandler(handler)
    return handler


def one(logger: logging.Logger, formatter: JSONFormatter | None = None, **kwargs: Any) -> Any:
    lines = capture(logger, formatter)
    logger.info("hello %s", "world", **kwargs)
    return lines.objects[-1]


# -- JSONFormatter ---------------------------------------------------------------------


def test_core_fields(logger: logging.Logger) -> None:
    obj = one(logger)
    assert list(obj)[:7] == [
        "@timestamp",
        "level",
        "logger",
        "message",
        "thread_name",
        "service",
        "host",
    ]
    assert obj["level"] == "INFO"
    assert obj["logger"] == logger.name
    assert obj["message"] == "hello world"
    assert obj["thread_name"] == threading.current_thread().name
    assert obj["service"] == "checkout"
    assert obj["host"]
    for absent in ("version", "env", "trace_id", "span_id", "request_id", "stack_trace"):
        assert absent not in obj


def test_timestamp_is_utc_iso8601_with_microseconds() -> None:
    formatter = JSONFormatter("svc")
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", None, None)
    for created in (1_764_108_556.551190, 1_764_108_556.999999, 1_764_108_557.0, time.time()):
        record.created = created
        stamp = json.loads(formatter.format(record))["@timestamp"]
        assert TIMESTAMP.match(stamp), stamp
        parsed = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        expected = dt.datetime.fromtimestamp(created, dt.UTC)
        assert abs((parsed - expected).total_seconds()) <= 1e-6


def test_resource_fields_when_configured(logger: logging.Logger) -> None:
    formatter = JSONFormatter(
        "checkout",
        version="1.4.2",
        env="prod",
        host="web-1",
        static_fields={"region": "eu-west-1"},
    )
    obj = one(logger, formatter)
    assert (obj["version"], obj["env"], obj["host"], obj["region"]) == (
        "1.4.2",
        "prod",
        "web-1",
        "eu-west-1",
    )


def test_levels(logger: logging.Logger) -> None:
    lines = capture(logger)
    logger.debug("d")
    logger.warning("w")
    logger.critical("c")
    assert [o["level"] for o in lines.objects] == ["DEBUG", "WARNING", "CRITICAL"]


def test_extra_fields(logger: logging.Logger) -> None:
    class Opaque:
        def __str__(self) -> str:
            return "<opaque thing>"

    when = dt.datetime(2025, 1, 2, 3, 4, 5, 123456, tzinfo=dt.UTC)
    obj = one(
        logger,
        extra={
            "user_id": 42,
            "ratio": 0.5,
            "ok": True,
            "nothing": None,
            "tags": ["a", "b"],
            "nested": {"a": {"b": [1, 2]}},
            "when": when,
            "price": Decimal("9.99"),
            "opaque": Opaque(),
            "ids": {3},
            "by_int": {1: "one"},
        },
    )
    assert obj["user_id"] == 42
    assert obj["ratio"] == 0.5
    assert obj["ok"] is True
    assert obj["nothing"] is None
    assert obj["tags"] == ["a", "b"]
    assert obj["nested"] == {"a": {"b": [1, 2]}}
    assert obj["when"] == "2025-01-02T03:04:05.123456+00:00"
    assert obj["price"] == "9.99"
    assert obj["opaque"] == "<opaque thing>"
    assert obj["ids"] == "{3}"
    assert obj["by_int"] == {"1": "one"}
    for internal in ("args", "msg", "levelno", "pathname", "exc_info", "created", "process"):
        assert internal not in obj


def test_values_orjson_refuses_still_make_a_line(logger: logging.Logger) -> None:
    cyclic: list[Any] = []
    cyclic.append(cyclic)
    obj = one(logger, extra={"huge": 2**80})
    assert obj["huge"] == 2**80
    obj = one(logger, extra={"cyclic": cyclic})
    assert obj["message"] == "hello world"
    assert isinstance(obj["cyclic"], str)


def test_extra_cannot_overwrite_core_fields(logger: logging.Logger) -> None:
    obj = one(logger, extra={"level": "FAKE", "logger": "fake", "@timestamp": "x", "env": "dev"})
    assert obj["level"] == "INFO"
    assert obj["logger"] == logger.name
    assert TIMESTAMP.match(obj["@timestamp"])
    assert obj["env"] == "dev"  # resource fields may be refined per record


def test_extras_seen_even_after_another_formatter_touched_the_record(
    logger: logging.Logger,
) -> None:
    plain = ListHandler(logging.Formatter("%(asctime)s %(message)s"))
    logger.addHandler(plain)  # runs first: adds `message` and `asctime` to the record
    lines = capture(logger)
    logger.info("x", extra={"k": "v"})
    logger.info("y")
    first, second = lines.objects
    assert first["k"] == "v"
    assert "asctime" not in first
    assert "asctime" not in second
    assert "k" not in second


def test_exception_fields(logger: logging.Logger) -> None:
    class PaymentDeclined(Exception):
        pass

    lines = capture(logger)
    try:
        raise PaymentDeclined("card 4242 declined")
    except PaymentDeclined:
        logger.exception("charge failed", extra={"order": 7})
    obj = lines.objects[-1]
    assert obj["level"] == "ERROR"
    assert obj["message"] == "charge failed"
    assert obj["error.type"].endswith("PaymentDeclined")
    assert obj["error.message"] == "card 4242 declined"
    assert obj["stack_trace"].startswith("Traceback (most recent call last):")
    assert "raise PaymentDeclined" in obj["stack_trace"]
    assert obj["stack_trace"].rstrip().endswith("PaymentDeclined: card 4242 declined")
    assert obj["order"] == 7


def test_builtin_exception_type_is_unqualified(logger: logging.Logger) -> None:
    lines = capture(logger)
    try:
        int("not a number")
    except ValueError:
        logger.error("lookup", exc_info=True)
    assert lines.objects[-1]["error.type"] == "ValueError"


def test_stack_info_and_location(logger: logging.Logger) -> None:
    lines = capture(logger, JSONFormatter("svc", include_location=True))
    logger.info("where", stack_info=True)
    obj = lines.objects[-1]
    assert obj["stack_info"].startswith("Stack (most recent call last):")
    assert obj["file"] == __file__
    assert obj["function"] == "test_stack_info_and_location"
    assert isinstance(obj["line"], int)


def test_bad_format_args_keep_the_line() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%d items", ("many",), None)
    message = json.loads(JSONFormatter("svc").format(record))["message"]
    assert message.startswith("%d items")
    assert "many" in message


def test_request_id_from_the_middleware_context(logger: logging.Logger) -> None:
    lines = capture(logger)
    with bind_request_id("req-123"):
        logger.info("inside")
    logger.info("outside")
    inside, outside = lines.objects
    assert inside["request_id"] == "req-123"
    assert "request_id" not in outside


def test_trace_ids_inside_an_opentelemetry_span_only(logger: logging.Logger) -> None:
    from opentelemetry.sdk.trace import TracerProvider

    tracer = TracerProvider().get_tracer("tests")
    lines = capture(logger)
    logger.info("before")
    with tracer.start_as_current_span("checkout") as span:
        logger.info("during")
        ctx = span.get_span_context()
    logger.info("after")
    before, during, after = lines.objects
    assert during["trace_id"] == format(ctx.trace_id, "032x")
    assert during["span_id"] == format(ctx.span_id, "016x")
    assert re.fullmatch(r"[0-9a-f]{32}", during["trace_id"])
    assert re.fullmatch(r"[0-9a-f]{16}", during["span_id"])
    for obj in (before, after):
        assert "trace_id" not in obj
        assert "span_id" not in obj


def test_trace_ids_follow_the_current_span(logger: logging.Logger) -> None:
    from opentelemetry.sdk.trace import TracerProvider

    tracer = TracerProvider().get_tracer("tests")
    lines = capture(logger)
    expected = []
    with tracer.start_as_current_span("parent") as parent:
        logger.info("a")
        with tracer.start_as_current_span("child") as child:
            logger.info("b")
        logger.info("c")
        expected = [parent, child, parent]
    with tracer.start_as_current_span("next") as other:
        logger.info("d")
        expected.append(other)
    got = [(o["trace_id"], o["span_id"]) for o in lines.objects]
    want = [
        (
            format(s.get_span_context().trace_id, "032x"),
            format(s.get_span_context().span_id, "016x"),
        )
        for s in expected
    ]
    assert got == want
    assert got[0][0] == got[1][0] != got[3][0]


def test_trace_context_can_be_turned_off(logger: logging.Logger) -> None:
    from opentelemetry.sdk.trace import TracerProvider

    lines = capture(logger, JSONFormatter("svc", trace_context=False))
    with TracerProvider().get_tracer("tests").start_as_current_span("s"):
        logger.info("x")
    assert "trace_id" not in lines.objects[-1]


def test_format_and_format_bytes_agree() -> None:
    formatter = JSONFormatter("svc")
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "héllo %s", ("✓",), None)
    assert formatter.format(record).encode() == formatter.format_bytes(record)
    assert "\n" not in formatter.format(record)


# -- TracelakeHandler ------------------------------------------------------------------


def make_handler(receiver: Receiver, **kwargs: Any) -> TracelakeHandler:
    kwargs.setdefault("warn", False)
    kwargs.setdefault("close_timeout", 2.0)
    return TracelakeHandler(receiver.url, **kwargs)


def test_handler_ships_the_exact_records(receiver: Receiver, logger: logging.Logger) -> None:
    from opentelemetry.sdk.trace import TracerProvider

    formatter = JSONFormatter("checkout", version="2.0", env="test")
    handler = make_handler(receiver, formatter=formatter, batch_size=3, flush_interval=30)
    logger.addHandler(handler)
    local = capture(logger, formatter)
    logger.info("plain")
    logger.warning("with extra", extra={"cart": {"items": 3}})
    with TracerProvider().get_tracer("t").start_as_current_span("s"), bind_request_id("r-1"):
        logger.error("traced")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logger.exception("failed")
    assert handler.flush(5)
    assert receiver.objects == local.objects
    assert [o["message"] for o in receiver.objects] == ["plain", "with extra", "traced", "failed"]
    assert receiver.objects[2]["request_id"] == "r-1"
    assert "trace_id" in receiver.objects[2]
    assert receiver.objects[3]["error.type"] == "RuntimeError"
    assert len(receiver.headers) == 2  # a batch of 3, then the flushed rest


def test_handler_sends_the_token(receiver: Receiver, logger: logging.Logger) -> None:
    handler = make_handler(receiver, token="t0k3n")
    logger.addHandler(handler)
    logger.info("x")
    assert handler.flush(5)
    assert receiver.headers[0]["authorization"] == "Bearer t0k3n"


def test_handler_close_flushes(receiver: Receiver, logger: logging.Logger) -> None:
    handler = make_handler(receiver, flush_interval=60)
    logger.addHandler(handler)
    for i in range(5):
        logger.info("m%d", i)
    logger.removeHandler(handler)
    handler.close()
    assert [o["message"] for o in receiver.objects] == [f"m{i}" for i in range(5)]


def test_emit_never_blocks_and_counts_drops(receiver: Receiver, logger: logging.Logger) -> None:
    receiver.stalled.set()
    sample = {"signal": "logs", "reason": "queue_full"}
    before = REGISTRY.get_sample_value("tracelake_sdk_dropped_records_total", sample) or 0.0
    handler = make_handler(receiver, queue_size=50, batch_size=10, flush_interval=0.01)
    logger.addHandler(handler)
    worst = 0.0
    start = time.perf_counter()
    for i in range(5000):
        t0 = time.perf_counter()
        logger.info("m%d", i)
        worst = max(worst, time.perf_counter() - t0)
    # The receiver never answers: an emit that waited on it would take the handler's
    # HTTP timeout (10 s). The bounds leave room for a loaded machine's scheduling.
    assert time.perf_counter() - start < 10.0
    assert worst < 1.0
    assert handler.dropped >= 4900
    after = REGISTRY.get_sample_value("tracelake_sdk_dropped_records_total", sample)
    assert after is not None
    assert after - before == handler.dropped
    receiver.release.set()


def test_full_queue_skips_formatting(receiver: Receiver, logger: logging.Logger) -> None:
    class Counting(JSONFormatter):
        calls = 0

        def format_bytes(self, record: logging.LogRecord) -> bytes:
            Counting.calls += 1
            return super().format_bytes(record)

    receiver.stalled.set()
    handler = make_handler(
        receiver, formatter=Counting("svc"), queue_size=5, batch_size=1000, flush_interval=60
    )
    logger.addHandler(handler)
    for _ in range(20):
        logger.info("x")
    assert Counting.calls == 5
    assert handler.dropped == 15
    receiver.release.set()


def test_emit_never_raises(
    receiver: Receiver,
    logger: logging.Logger,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    class Broken(logging.Formatter):
        def format(self, record: logging.LogRecord) -> str:
            raise RuntimeError("formatter bug")

    handler = make_handler(receiver, formatter=Broken())
    logger.addHandler(handler)
    monkeypatch.setattr(logging, "raiseExceptions", False)
    logger.info("x")  # silently dropped, as logging does
    monkeypatch.setattr(logging, "raiseExceptions", True)
    logger.info("y")  # reported on stderr, still not raised
    assert "formatter bug" in capsys.readouterr().err


def test_any_formatter_works(receiver: Receiver, logger: logging.Logger) -> None:
    handler = make_handler(receiver, formatter=logging.Formatter('{"message": "%(message)s"}'))
    logger.addHandler(handler)
    logger.info("custom")
    assert handler.flush(5)
    assert receiver.objects == [{"message": "custom"}]


def test_handler_filters_and_level(receiver: Receiver, logger: logging.Logger) -> None:
    handler = make_handler(receiver, level="WARNING")
    handler.addFilter(lambda record: "secret" not in record.getMessage())
    logger.addHandler(handler)
    logger.info("too low")
    logger.warning("the secret")
    logger.warning("kept")
    assert handler.flush(5)
    assert [o["message"] for o in receiver.objects] == ["kept"]


# -- configure_logging -----------------------------------------------------------------


@pytest.fixture
def root() -> Iterator[logging.Logger]:
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    yield root
    for handler in list(root.handlers):
        if handler not in saved_handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(saved_level)


def ours(root: logging.Logger) -> list[logging.Handler]:
    return [h for h in root.handlers if hasattr(h, "_tracelake_configured")]


def test_configure_logging_is_one_line_and_idempotent(
    receiver: Receiver, root: logging.Logger
) -> None:
    handler = configure_logging(
        service="billing", endpoint=receiver.url, level="debug", console=False, version="3"
    )
    again = configure_logging(
        service="billing", endpoint=receiver.url, level="debug", console=False, version="3"
    )
    assert again is handler
    assert ours(root) == [handler]
    assert root.level == logging.DEBUG
    logging.getLogger("some.module").debug("via root", extra={"k": 1})
    assert handler.flush(5)
    (obj,) = receiver.objects
    assert (obj["service"], obj["version"], obj["logger"], obj["k"]) == (
        "billing",
        "3",
        "some.module",
        1,
    )


def test_configure_logging_replaces_on_new_settings(
    receiver: Receiver, root: logging.Logger
) -> None:
    first = configure_logging(service="a", endpoint=receiver.url, console=True)
    second = configure_logging(service="b", endpoint=receiver.url, console=True, token="t")
    assert second is not first
    assert first.exporter.closed
    handlers = ours(root)
    assert len(handlers) == 2
    assert sum(isinstance(h, TracelakeHandler) for h in handlers) == 1
    third = configure_logging(service="b", endpoint=receiver.url, console=False, token="t")
    assert ours(root) == [third]


def test_configure_logging_console_writes_the_same_json(
    receiver: Receiver, root: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    handler = configure_logging(service="svc", endpoint=receiver.url, env="dev")
    logging.getLogger("app").warning("to both")
    assert handler.flush(5)
    console = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert console == receiver.objects[-1]
    assert console["env"] == "dev"


def test_default_endpoint() -> None:
    assert DEFAULT_ENDPOINT == "http://127.0.0.1:7700"


# -- import hygiene --------------------------------------------------------------------


def _python(code: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_sdk_imports_no_server_dependency() -> None:
    result = _python(
        """
        import sys
        import tracelake.sdk.logging, tracelake.sdk.middleware
        heavy = {"duckdb", "pyarrow", "starlette", "httpx", "uvicorn", "urllib3", "requests"}
        loaded = heavy & {name.split(".")[0] for name in sys.modules}
        assert not loaded, loaded
        """
    )
    assert result.returncode == 0, result.stderr


def test_works_without_opentelemetry() -> None:
    result = _python(
        """
        import sys, json, logging
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name == "opentelemetry" or name.startswith("opentelemetry."):
                    raise ImportError(name)
        sys.meta_path.insert(0, Block())
        from tracelake.sdk.logging import JSONFormatter
        record = logging.LogRecord("x", logging.INFO, "f", 1, "hi", None, None)
        obj = json.loads(JSONFormatter("svc").format(record))
        assert obj["message"] == "hi" and "trace_id" not in obj, obj
        assert "opentelemetry" not in sys.modules
        """
    )
    assert result.returncode == 0, result.stderr


def test_logs_are_flushed_at_interpreter_exit(receiver: Receiver) -> None:
    result = _python(
        f"""
        import logging
        from tracelake.sdk.logging import configure_logging
        configure_logging(service="job", endpoint={receiver.url!r}, console=False,
                          flush_interval=60)
        logging.getLogger("job").info("finished %d items", 3)
        """
    )
    assert result.returncode == 0, result.stderr
    assert [o["message"] for o in receiver.objects] == ["finished 3 items"]
