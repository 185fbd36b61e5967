"""Local traces: spans of several services written as JSON lines and drawn back as one
waterfall, parents before children."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from typer.testing import CliRunner

from trellis_shared import tracefile
from trellis_shared.cli import app


def _tracer(service: str, path) -> trace.Tracer:
    provider = TracerProvider(resource=Resource.create({"service.name": f"trellis-{service}"}))
    provider.add_span_processor(SimpleSpanProcessor(tracefile.JsonLinesSpanExporter(path)))
    return provider.get_tracer("test")


def test_spans_of_two_services_join_into_one_waterfall(tmp_path):
    profiles = _tracer("profiles", tmp_path / "profiles.jsonl")
    notifications = _tracer("notifications", tmp_path / "notifications.jsonl")
    with profiles.start_as_current_span("POST /profiles/people") as root:
        with profiles.start_as_current_span("INSERT person"):
            pass
        context = trace.set_span_in_context(root)
    with notifications.start_as_current_span("trellis.profiles.person process", context=context):
        pass
    with profiles.start_as_current_span("GET /healthz"):
        pass  # another trace

    trace_id = format(root.get_span_context().trace_id, "032x")
    spans = tracefile.read_spans(sorted(tmp_path.glob("*.jsonl")), trace_id)
    assert len(spans) == 3
    lines = tracefile.waterfall(spans)
    assert lines[0].startswith("POST /profiles/people")
    assert lines[1].startswith("  INSERT person")
    assert lines[2].startswith("  trellis.profiles.person process")
    assert "notifications" in lines[2]
    assert all("|" in line and "ms" in line for line in lines)

    recent = tracefile.summaries(tracefile.read_spans(sorted(tmp_path.glob("*.jsonl"))))
    assert {t["root"] for t in recent} == {"POST /profiles/people", "GET /healthz"}
    joined = next(t for t in recent if t["trace_id"] == trace_id)
    assert joined["services"] == ["notifications", "profiles"] and joined["spans"] == 3

    shown = CliRunner().invoke(app, ["trace", trace_id, "--dir", str(tmp_path)])
    assert shown.exit_code == 0, shown.output
    assert "3 spans across notifications, profiles" in shown.output
    missing = CliRunner().invoke(app, ["trace", "0" * 32, "--dir", str(tmp_path)])
    assert missing.exit_code != 0


def test_a_line_cut_short_by_a_crash_is_skipped(tmp_path):
    path = tmp_path / "profiles.jsonl"
    tracer = _tracer("profiles", path)
    with tracer.start_as_current_span("kept"):
        pass
    with path.open("a") as out:
        out.write('{"trace_id": "abc", "span_id"')
    assert [s.name for s in tracefile.read_spans([path])] == ["kept"]
