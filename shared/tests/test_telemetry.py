"""Logs are JSON lines that carry the active trace."""

import json
import logging

from opentelemetry import trace

from trellis_shared.telemetry import JsonFormatter, context_from_traceparent, current_traceparent


def _record(message: str) -> logging.LogRecord:
    return logging.LogRecord("trellis.test", logging.INFO, __file__, 1, message, None, None)


def test_a_log_line_inside_a_span_carries_its_trace_and_span_ids():
    with trace.get_tracer("test").start_as_current_span("work") as span:
        line = json.loads(JsonFormatter().format(_record("hello")))
    assert line["message"] == "hello"
    assert line["trace_id"] == format(span.get_span_context().trace_id, "032x")
    assert line["span_id"] == format(span.get_span_context().span_id, "016x")


def test_a_stored_traceparent_restores_the_trace():
    with trace.get_tracer("test").start_as_current_span("write") as span:
        stored = current_traceparent()
    assert stored and format(span.get_span_context().trace_id, "032x") in stored
    with trace.get_tracer("test").start_as_current_span(
        "publish", context=context_from_traceparent(stored)
    ) as child:
        assert child.get_span_context().trace_id == span.get_span_context().trace_id
