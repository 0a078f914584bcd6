"""Azure Functions (Python v2 programming model) adapter: func.HttpRequest in, HttpResponse kwargs out.

Kept free of the azure.functions import so the same code is testable anywhere; function_app.py
does the import and the decorator wiring.
"""
from __future__ import annotations

import base64
from urllib.parse import parse_qsl, urlparse

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


class LocalHttpRequest:
    """The attributes of azure.functions.HttpRequest the adapter reads, for running the Azure entry
    off Azure (the azure-functions package is the Functions worker's own)."""

    def __init__(self, method: str, url: str, headers: dict, params: dict, body: bytes):
        self.method, self.url, self.headers, self.params, self._body = method, url, headers, params, body

    def get_body(self) -> bytes:
        return self._body


def local_handler(root: str):
    """The Azure entry behind a Lambda-style handler, so the local provider (which speaks Function URL
    events) runs an Azure bundle through the same adapter function_app.py calls: the request becomes
    an Azure HttpRequest, the HttpResponse arguments become the HTTP response."""
    from .core import Runtime

    runtime = Runtime(root)

    def handler(event: dict, _context) -> dict:
        http = (event.get("requestContext") or {}).get("http") if isinstance(event, dict) else None
        if not http:
            raise TypeError("an Azure Functions bundle answers HTTP requests only: send one (invoke --data, or serve)")
        raw = event.get("body") or ""
        body = base64.b64decode(raw) if event.get("isBase64Encoded") else raw.encode()
        query = event.get("rawQueryString") or ""
        url = f"https://localhost{event.get('rawPath') or http.get('path') or '/'}{'?' + query if query else ''}"
        req = LocalHttpRequest(http["method"], url, event.get("headers") or {}, dict(parse_qsl(query)), body)
        out = handle(runtime, req)
        return {"statusCode": out["status_code"], "headers": {**out["headers"], "content-type": out["mimetype"]}, "body": out["body"]}

    return handler
