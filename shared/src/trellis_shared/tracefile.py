"""Traces without a collector: spans written as JSON lines to a local file, and read back.

Each service process appends its finished spans to its own file under the stack's state folder;
`trellis trace` joins the files and draws one trace as a waterfall across services. With Docker
or in a cluster, the OTLP exporter sends the same spans to a collector (Jaeger) instead.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

MAX_BYTES = 50 * 1024 * 1024  # then the file rolls over to <name>.1 (one generation kept)
_KEPT_ATTRIBUTES = (
    "http.request.method",
    "http.method",
    "http.route",
    "http.response.status_code",
    "http.status_code",
    "url.path",
    "db.statement",
    "messaging.destination.name",
    "messaging.destination",
    "messaging.kafka.message.key",
    "trellis.event_type",
)


class JsonLinesSpanExporter(SpanExporter):
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = "".join(json.dumps(_record(s), ensure_ascii=False) + "\n" for s in spans)
        with self._lock:
            if self.path.exists() and self.path.stat().st_size > MAX_BYTES:
                self.path.replace(self.path.with_suffix(self.path.suffix + ".1"))
            with self.path.open("a", encoding="utf-8") as out:
                out.write(lines)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass


def _record(span: ReadableSpan) -> dict[str, Any]:
    attributes = span.attributes or {}
    return {
        "trace_id": format(span.context.trace_id, "032x"),
        "span_id": format(span.context.span_id, "016x"),
        "parent_id": format(span.parent.span_id, "016x") if span.parent else None,
        "service": (span.resource.attributes or {}).get("service.name", "?"),
        "name": span.name,
        "kind": span.kind.name.lower(),
        "start": span.start_time,
        "end": span.end_time,
        "status": span.status.status_code.name.lower(),
        "attributes": {k: str(attributes[k])[:300] for k in _KEPT_ATTRIBUTES if k in attributes},
    }


@dataclass
class Span:
    trace_id: str
    span_id: str
    parent_id: str | None
    service: str
    name: str
    kind: str
    start: int
    end: int
    status: str
    attributes: dict[str, str] = field(default_factory=dict)
    children: list[Span] = field(default_factory=list)

    @property
    def ms(self) -> float:
        return (self.end - self.start) / 1e6


def read_spans(files: Iterable[Path], trace_id: str | None = None) -> list[Span]:
    spans = []
    for path in files:
        for older in (path.with_suffix(path.suffix + ".1"), path):
            if not older.exists():
                continue
            for line in older.read_text(encoding="utf-8").splitlines():
                try:
                    raw = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut short by a crash
                if trace_id is None or raw["trace_id"] == trace_id:
                    spans.append(Span(**raw))
    return spans


def tree(spans: list[Span]) -> list[tuple[int, Span]]:
    """The spans depth-first in start order, each with its depth (orphans start new roots)."""
    by_id = {s.span_id: s for s in spans}
    roots = []
    for s in sorted(spans, key=lambda s: s.start):
        parent = by_id.get(s.parent_id) if s.parent_id else None
        (parent.children if parent else roots).append(s)
    ordered: list[tuple[int, Span]] = []

    def walk(span: Span, depth: int) -> None:
        ordered.append((depth, span))
        for child in span.children:
            walk(child, depth + 1)

    for root in roots:
        walk(root, 0)
    return ordered


def waterfall(spans: list[Span], *, width: int = 40) -> list[str]:
    """One line per span: indented name, service, duration, and its bar on the trace's timeline."""
    if not spans:
        return []
    start = min(s.start for s in spans)
    total = max(max(s.end for s in spans) - start, 1)
    lines = []
    for depth, span in tree(spans):
        left = int((span.start - start) / total * width)
        length = max(1, int((span.end - span.start) / total * width))
        bar = " " * left + "█" * min(length, width - left)
        label = ("  " * depth + span.name)[:60]
        marker = " !" if span.status == "error" else ""
        lines.append(
            f"{label:<60} {span.service.removeprefix('trellis-'):<14} "
            f"{span.ms:>9.1f} ms |{bar:<{width}}|{marker}"
        )
    return lines


def summaries(spans: list[Span], limit: int = 20) -> list[dict[str, Any]]:
    """The most recent traces: their root span, services, span count and duration."""
    by_trace: dict[str, list[Span]] = {}
    for s in spans:
        by_trace.setdefault(s.trace_id, []).append(s)
    found = []
    for trace_id, members in by_trace.items():
        first = min(members, key=lambda s: s.start)
        found.append(
            {
                "trace_id": trace_id,
                "root": first.name,
                "services": sorted({m.service.removeprefix("trellis-") for m in members}),
                "spans": len(members),
                "ms": (max(m.end for m in members) - first.start) / 1e6,
                "start": first.start,
            }
        )
    return sorted(found, key=lambda t: t["start"], reverse=True)[:limit]
