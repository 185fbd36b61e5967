"""The process's OpenTelemetry metrics in the Prometheus text format, for a local `/metrics`.

A scrape reads the in-memory reader that `setup_telemetry` installs beside any OTLP exporter, so
what Prometheus sees is exactly what the collector would get: the outbox backlog gauge, the
relay's and consumers' counters, and the HTTP server histograms. The few lines of the format are
rendered here rather than through opentelemetry-exporter-prometheus, whose releases pin an
opentelemetry-sdk newer than the one the workspace is locked to.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from opentelemetry.sdk.metrics.export import Gauge, Histogram, MetricReader, Sum

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_INVALID = re.compile(r"[^a-zA-Z0-9_:]")


def render(reader: MetricReader | None) -> str:
    """Every metric the reader collects now, one family per metric name."""
    data = reader.get_metrics_data() if reader is not None else None
    if data is None:
        return ""
    families: dict[str, list[str]] = {}
    for resource_metrics in data.resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                _family(families, metric)
    return "".join(line + "\n" for lines in families.values() for line in lines)


def _family(families: dict[str, list[str]], metric: Any) -> None:
    name = _name(metric.name)
    points = metric.data
    if isinstance(points, Sum):
        kind = "counter" if points.is_monotonic else "gauge"
        if kind == "counter":
            name += "_total"
        lines = [f"{name}{_labels(p.attributes)} {_number(p.value)}" for p in points.data_points]
    elif isinstance(points, Gauge):
        kind = "gauge"
        lines = [f"{name}{_labels(p.attributes)} {_number(p.value)}" for p in points.data_points]
    elif isinstance(points, Histogram):
        kind = "histogram"
        lines = [line for p in points.data_points for line in _histogram(name, p)]
    else:
        return
    if name not in families:
        help_ = (metric.description or metric.name).replace("\\", "\\\\").replace("\n", " ")
        families[name] = [f"# HELP {name} {help_}", f"# TYPE {name} {kind}"]
    families[name] += lines


def _histogram(name: str, point: Any) -> Iterable[str]:
    cumulative = 0
    bounds = [*point.explicit_bounds, math.inf]
    for bound, count in zip(bounds, point.bucket_counts, strict=False):
        cumulative += count
        le = "+Inf" if bound == math.inf else _number(bound)
        yield f"{name}_bucket{_labels(point.attributes, le=le)} {cumulative}"
    yield f"{name}_sum{_labels(point.attributes)} {_number(point.sum)}"
    yield f"{name}_count{_labels(point.attributes)} {point.count}"


def _name(raw: str) -> str:
    name = _INVALID.sub("_", raw)
    return f"_{name}" if name[:1].isdigit() else name


def _labels(attributes: Mapping[str, Any] | None, **extra: str) -> str:
    pairs = {**{_name(k): str(v) for k, v in (attributes or {}).items()}, **extra}
    if not pairs:
        return ""
    body = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(pairs.items()))
    return "{" + body + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if isinstance(value, float) and math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(value) if isinstance(value, float) else str(value)
