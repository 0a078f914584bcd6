"""One JSON line per request, which is also a CloudWatch Embedded Metric Format record, so latency,
error and cold-start metrics need no API calls."""
from __future__ import annotations

import json
import sys
import time

NAMESPACE = "mlserve"
LINE = json.JSONEncoder(default=str)  # a record as json.dumps(record, default=str) writes it, made once


def log(event: str, **fields) -> None:
    record = {"level": "ERROR" if event.endswith("error") else "INFO", "event": event, **fields}
    sys.stdout.write(LINE.encode(record) + "\n")
    sys.stdout.flush()


def request_record(model_name: str, fields: dict) -> dict:
    """The per-request log line with EMF metadata for Latency, Errors and ColdStart by Model."""
    return {
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["Model"]],
                "Metrics": [
                    {"Name": "Latency", "Unit": "Milliseconds"},
                    {"Name": "Errors", "Unit": "Count"},
                    {"Name": "ColdStart", "Unit": "Count"},
                ],
            }],
        },
        "Model": model_name,
        "Latency": fields["latency_ms"],
        "Errors": 1 if fields["status"] >= 500 else 0,
        "ColdStart": 1 if fields["cold_start"] else 0,
        "level": "ERROR" if fields["status"] >= 500 else "INFO",
        "event": "request",
        **fields,
    }


# Set while the local worker serves a request directly (direct.py): it takes the record and writes it
# straight to the stage's log, in the server's format, once the answer is sent, instead of it going
# through stdout and the server.
record_sink = None


def emit(record: dict) -> None:
    if record_sink is not None:
        record_sink(record)
        return
    sys.stdout.write(LINE.encode(record) + "\n")
    sys.stdout.flush()
