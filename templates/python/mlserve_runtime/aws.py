"""AWS Lambda entry: handler(event, context) for every event shape. Also what the local provider runs."""
from __future__ import annotations

import json

from . import events
from .batch import handle_messages, handle_s3
from .errors import HttpError
from .http import Request, error_response


def make_handler(runtime):
    def handler(event, context=None):
        kind = events.kind_of(event)
        if kind == "http_v2":
            return _http(runtime, event, events.request_v2, lambda r: events.response_v2(r))
        if kind in ("http_v1", "alb"):
            return _http(runtime, event, events.request_v1, lambda r: events.response_v1(r, event, alb=kind == "alb"))
        if kind == "azure_custom":
            request, _binding = events.request_azure_custom(event)
            return events.response_azure_custom(runtime.handle_http(request))
        if kind == "direct":
            return direct(runtime, event)
        if kind == "s3":
            return handle_s3(runtime, event["Records"])
        if kind in ("sqs", "sns"):
            return handle_messages(runtime, event["Records"], kind)
        return runtime.warm_up("schedule")

    # The HTTP entry itself, for a caller that has the request the Function URL event would carry
    # (the local worker serving a connection, direct.py): the same answer without the event.
    handler.serve_http = runtime.handle_http
    return handler


def _http(runtime, event, to_request, to_event):
    try:
        request = to_request(event)
    except HttpError as e:
        return to_event(error_response(e))
    return to_event(runtime.handle_http(request))


def direct(runtime, event) -> dict:
    """A plain JSON payload (aws lambda invoke / SDK Invoke): the body of the answer, no HTTP wrapper.
    A bad payload answers {"statusCode": 4xx, "error": {...}} rather than a traceback."""
    inputs = event.get("inputs")
    is_v2 = isinstance(inputs, list) and inputs and isinstance(inputs[0], dict)
    path = f"/v2/models/{runtime.name}/infer" if is_v2 else "/"
    response = runtime.handle_http(Request("POST", path, {"content-type": "application/json"}, {}, json.dumps(event).encode()))
    if response.status >= 400:
        return {"statusCode": response.status, **response.body}
    return response.body
