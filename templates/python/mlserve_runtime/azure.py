"""Azure Functions (Python v2 programming model) adapter: func.HttpRequest in, HttpResponse kwargs out.

Kept free of the azure.functions import so the same code is testable anywhere; function_app.py
does the import and the decorator wiring.
"""
from __future__ import annotations

from urllib.parse import urlparse

from .http import Request


def to_request(req) -> Request:
    """Any object shaped like azure.functions.HttpRequest (method, url, headers, params, get_body)."""
    path = urlparse(req.url).path
    headers = {k.lower(): v for k, v in dict(req.headers).items()}
    return Request(req.method, path, headers, dict(req.params), req.get_body() or b"",
                   headers.get("x-ms-request-id") or headers.get("x-request-id", ""))


def handle(runtime, req) -> dict:
    """Keyword arguments for azure.functions.HttpResponse."""
    response = runtime.handle_http(to_request(req))
    return {"body": response.text(), "status_code": response.status, "headers": response.all_headers(),
            "mimetype": "application/json"}
