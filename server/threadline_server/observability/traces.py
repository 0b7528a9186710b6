"""Whether to trace: the standard OTEL_* variables decide, and traces are off without them.

Traces are on when OTEL_TRACES_EXPORTER names an exporter (anything but
``none``), or when an OTLP endpoint is given (OTEL_EXPORTER_OTLP_ENDPOINT or
OTEL_EXPORTER_OTLP_TRACES_ENDPOINT; the exporter is then ``otlp``);
OTEL_SDK_DISABLED=true turns them off whatever else is set. Everything else
(exporter protocol and endpoint, headers, sampler, resource, batching,
propagators) is read by the OpenTelemetry SDK itself, from the same
variables it always reads.

OpenTelemetry is the ``otel`` extra (``pip install 'threadline[otel]'``): this
module imports it only when traces are asked for, so a server that does not
trace neither loads nor needs it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from threadline_server.observability.otel import Tracing

logger = logging.getLogger("threadline")

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


def requested(environ: Mapping[str, str]) -> bool:
    """Tell whether the OTEL_* variables ask for traces."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporter = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter:
        return exporter != "none"
    return any(environ.get(name, "").strip() for name in ENDPOINT_VARIABLES)


def from_environment() -> Tracing | None:
    """Set OpenTelemetry up from the process's OTEL_* variables, or return None (off)."""
    if not requested(os.environ):
        logger.info("traces off (no OTEL_TRACES_EXPORTER or OTLP endpoint set)")
        return None
    try:
        from threadline_server.observability import otel  # noqa: PLC0415 - an optional extra
    except ImportError as error:
        logger.warning(
            "OTEL_* variables ask for traces, but OpenTelemetry is not installed "
            "(pip install 'threadline[otel]'): traces off (%s)",
            error,
        )
        return None
    tracing = otel.configure_from_environment()
    logger.info("traces on (exporter %s)", os.environ.get("OTEL_TRACES_EXPORTER"))
    return tracing
