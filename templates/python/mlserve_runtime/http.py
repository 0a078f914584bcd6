"""The HTTP surface: KServe v1 / TF Serving, Open Inference Protocol v2, health. Transport-free:
every event shape is turned into a Request, and a Response back into that shape."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from http import HTTPStatus
from urllib.parse import parse_qs

from .errors import HttpError, invalid_input
from .settings import MAX_BODY_BYTES
from .validate import strict_json

COMPACT = json.JSONEncoder(separators=(",", ":"))  # made once: json.dumps with options makes one per call


@dataclass
class Request:
    method: str
    path: str
    headers: dict = field(default_factory=dict)  # lower-case names
    query: dict = field(default_factory=dict)  # name -> last value
    body: bytes = b""
    request_id: str = ""


@dataclass
class Response:
    status: int
    body: dict
    headers: dict = field(default_factory=dict)

    def text(self) -> str:
        return COMPACT.encode(self.body)

    def all_headers(self) -> dict:
        return {"content-type": "application/json", **self.headers}


_PHRASES = {status.value: status.phrase for status in HTTPStatus}


def reason(status: int) -> str:
    """The status's reason phrase, or "" for a code HTTP does not name."""
    return _PHRASES.get(status, "")


def parse_query(raw: str) -> dict:
    if not raw:
        return {}
    return {k: v[-1] for k, v in parse_qs(raw, keep_blank_values=True).items()}


def error_response(error: HttpError) -> Response:
    body = {"code": error.code, "message": error.message}
    if error.field:
        body["field"] = error.field
    return Response(error.status, {"error": body}, dict(error.headers))


# (method set, compiled path pattern, handler name). v1/v2 routes may sit under any prefix
# (a REST API base path, a custom domain mapping), so they match as a suffix.
_NAME = r"(?P<name>[^/:]+)"
ROUTES = [
    ({"GET"}, re.compile(r"^/$"), "info"),
    ({"POST"}, re.compile(r"^/$"), "predict_v1"),
    ({"POST"}, re.compile(r"^/(predict|invocations)$"), "predict_v1"),
    ({"GET"}, re.compile(r"^/ping$"), "ready"),
    ({"GET"}, re.compile(rf"/v1/models/{_NAME}$"), "model_status_v1"),
    ({"POST"}, re.compile(rf"/v1/models/{_NAME}:predict$"), "predict_v1"),
    ({"GET"}, re.compile(r"/v2/health/live$"), "live"),
    ({"GET"}, re.compile(r"/v2/health/ready$"), "ready"),
    ({"GET"}, re.compile(r"/v2$"), "server_v2"),
    ({"GET"}, re.compile(rf"/v2/models/{_NAME}(/versions/[^/]+)?$"), "metadata_v2"),
    ({"GET"}, re.compile(rf"/v2/models/{_NAME}(/versions/[^/]+)?/ready$"), "model_ready_v2"),
    ({"POST"}, re.compile(rf"/v2/models/{_NAME}(/versions/[^/]+)?/infer$"), "infer_v2"),
]


_routed: dict = {}  # (method, path) -> (handler name, path params): a served path is matched once
ROUTED_MAX = 256


def route(method: str, path: str):
    """(handler name, path params), or raise 404/405."""
    found = _routed.get((method, path))
    if found is None:
        found = _route(method, path)
        if len(_routed) < ROUTED_MAX:
            _routed[(method, path)] = found
    return found[0], dict(found[1])


def _route(method: str, path: str):
    path = re.sub(r"/+", "/", path or "/")
    if len(path) > 1:
        path = path.rstrip("/")
    allowed = set()
    for methods, pattern, name in ROUTES:
        match = pattern.search(path)
        if match:
            if method.upper() in methods:
                return name, match.groupdict()
            allowed |= methods
    if allowed:
        raise HttpError(405, "METHOD_NOT_ALLOWED", f"{method} is not allowed on {path}; use {', '.join(sorted(allowed))}",
                        {"allow": ", ".join(sorted(allowed))})
    raise HttpError(404, "NOT_FOUND", f"no route {method} {path}; try POST /v1/models/<name>:predict, "
                    "POST /v2/models/<name>/infer, GET /v2/health/ready or GET /")


def json_body(request: Request):
    if len(request.body) > MAX_BODY_BYTES:
        raise HttpError(413, "PAYLOAD_TOO_LARGE", f"request body is {len(request.body)} bytes; the limit is "
                        f"{MAX_BODY_BYTES} (6 MB, Lambda's synchronous payload limit): send fewer rows per request")
    if not request.body.strip():
        raise invalid_input("body", 'is empty; send JSON such as {"instances": [[5.1, 3.5, 1.4, 0.2]]}')
    return strict_json(request.body)
