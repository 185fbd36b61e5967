"""OpenTelemetry wiring and JSON logs that carry the trace id."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping
from datetime import UTC, datetime

from opentelemetry import context as otel_context
from opentelemetry import metrics, propagate, trace
from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, MetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

_configured = False
# What a local `/metrics` scrape reads (trellis_shared.prometheus); None where a test or an
# embedding process owns the meter provider.
_local_reader: MetricReader | None = None


def setup_telemetry(
    service_name: str,
    *,
    otlp_endpoint: str | None,
    log_level: str = "INFO",
    trace_file: str | None = None,
) -> None:
    """Install tracer and meter providers once per process (tests may install their own first)."""
    global _configured, _local_reader
    if _configured:
        return
    _configured = True
    configure_logging(log_level)
    # Database spans come from the asyncpg driver: the SQLAlchemy instrumentation (0.66b1)
    # refuses SQLAlchemy 2.1 and instruments nothing.
    AsyncPGInstrumentor().instrument()
    if isinstance(trace.get_tracer_provider(), TracerProvider):
        return  # a test or an embedding process already owns the providers
    resource = Resource.create(
        {"service.name": f"trellis-{service_name}", "service.namespace": "trellis"}
    )
    provider = TracerProvider(resource=resource)
    _local_reader = InMemoryMetricReader()
    readers: list[MetricReader] = [_local_reader]
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

        provider.add_span_processor(
            BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{otlp_endpoint.rstrip('/')}/v1/traces"))
        )
        readers.append(
            PeriodicExportingMetricReader(
                OTLPMetricExporter(endpoint=f"{otlp_endpoint.rstrip('/')}/v1/metrics")
            )
        )
    if trace_file:
        from trellis_shared.tracefile import JsonLinesSpanExporter

        provider.add_span_processor(BatchSpanProcessor(JsonLinesSpanExporter(trace_file)))
    trace.set_tracer_provider(provider)
    metrics.set_meter_provider(MeterProvider(resource=resource, metric_readers=readers))


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the active trace and span ids."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        span_context = trace.get_current_span().get_span_context()
        if span_context.is_valid:
            entry["trace_id"] = format(span_context.trace_id, "032x")
            entry["span_id"] = format(span_context.span_id, "016x")
        for key in ("request_id", "event_id", "event_type", "topic"):
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = str(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiokafka", "kafka", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


def local_metric_reader() -> MetricReader | None:
    return _local_reader


def current_traceparent() -> str | None:
    """The W3C traceparent of the active span, to store with an outbox row."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent")


def context_from_traceparent(traceparent: str | None) -> otel_context.Context:
    return propagate.extract({"traceparent": traceparent} if traceparent else {})


def context_from_headers(headers: Mapping[str, str]) -> otel_context.Context:
    return propagate.extract(dict(headers))


def tracer(name: str = "trellis") -> trace.Tracer:
    return trace.get_tracer(name)


def meter(name: str = "trellis") -> metrics.Meter:
    return metrics.get_meter(name)
