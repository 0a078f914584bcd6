"""Every event shape AWS (and the Azure custom-handler host) really sends, to and from Request/Response.

HTTP: API Gateway REST (v1), HTTP API and Function URL (payload 2.0), ALB (single and multi-value
headers), Azure custom handler. Others: S3, SQS, SNS, EventBridge schedule, and direct invocation
with a plain JSON payload.
"""
from __future__ import annotations

import base64
import json
from urllib.parse import urlparse

from .errors import HttpError, UnsupportedEvent
from .http import Request, Response, parse_query, reason

SUPPORTED = ("API Gateway REST (v1) proxy, HTTP API / Function URL (payload 2.0), ALB, S3 ObjectCreated, SQS, SNS, "
             "EventBridge schedule, Azure custom handler, or a direct payload {\"instances\": [...]} / {\"inputs\": [...]}")


def kind_of(event) -> str:
    if not isinstance(event, dict):
        raise UnsupportedEvent(f"cannot handle a {type(event).__name__} payload; send one of: {SUPPORTED}")
    context = event.get("requestContext") or {}
    if event.get("version") == "2.0" and isinstance(context.get("http"), dict):
        return "http_v2"
    if "httpMethod" in event and isinstance(context, dict) and "elb" in context:
        return "alb"
    if "httpMethod" in event:
        return "http_v1"
    records = event.get("Records")
    if isinstance(records, list) and records and isinstance(records[0], dict):
        source = records[0].get("eventSource") or records[0].get("EventSource")
        if source in ("aws:s3", "aws:sqs", "aws:sns"):
            return source.split(":")[1]
    if event.get("source") == "aws.events" and event.get("detail-type") == "Scheduled Event":
        return "schedule"
    if isinstance(event.get("Data"), dict) and "Metadata" in event:
        return "azure_custom"
    if "instances" in event or "inputs" in event:
        return "direct"
    raise UnsupportedEvent(f"unrecognised event (keys: {', '.join(sorted(event)[:8])}); supported: {SUPPORTED}")


def _body(event) -> bytes:
    body = event.get("body")
    if body is None:
        return b""
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(body)
        except ValueError:
            raise HttpError(400, "BAD_REQUEST", "body is marked base64 but does not decode") from None
    return body.encode("utf-8")


def request_v1(event) -> Request:
    """API Gateway REST proxy and ALB: multi-value maps win when present (they hold every value)."""
    mv_headers = event.get("multiValueHeaders")
    headers = {k.lower(): (v[-1] if v else "") for k, v in mv_headers.items()} if mv_headers else \
        {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    mv_query = event.get("multiValueQueryStringParameters")
    query = {k: (v[-1] if v else "") for k, v in mv_query.items()} if mv_query else dict(event.get("queryStringParameters") or {})
    context = event.get("requestContext") or {}
    return Request(event["httpMethod"], event.get("path") or "/", headers, query, _body(event), context.get("requestId", ""))


def request_v2(event) -> Request:
    """HTTP API and Function URL (payload format 2.0). A named stage prefixes rawPath: strip it."""
    context = event["requestContext"]
    path = event.get("rawPath") or context["http"].get("path") or "/"
    stage = context.get("stage")
    if stage and stage != "$default" and (path == f"/{stage}" or path.startswith(f"/{stage}/")):
        path = path[len(stage) + 1:] or "/"
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    return Request(context["http"]["method"], path, headers, parse_query(event.get("rawQueryString", "")), _body(event),
                   context.get("requestId", ""))


def response_v1(response: Response, event, alb: bool) -> dict:
    headers = response.all_headers()
    out = {"statusCode": response.status, "body": response.text(), "isBase64Encoded": False}
    if alb:
        out["statusDescription"] = f"{response.status} {reason(response.status)}"
    # With multi-value headers on, ALB reads only multiValueHeaders; API Gateway accepts both.
    if event.get("multiValueHeaders") is not None:
        out["multiValueHeaders"] = {k: [v] for k, v in headers.items()}
        if not alb:
            out["headers"] = headers
    else:
        out["headers"] = headers
    return out


def response_v2(response: Response) -> dict:
    return {"statusCode": response.status, "headers": response.all_headers(), "body": response.text(), "isBase64Encoded": False}


def request_azure_custom(event) -> tuple[Request, str]:
    """The Functions host's custom-handler envelope: Data.<binding> = {Url, Method, Query, Headers, Body}."""
    for binding, value in event["Data"].items():
        if isinstance(value, dict) and "Url" in value and "Method" in value:
            url = urlparse(value["Url"])
            path = url.path
            if path == "/api" or path.startswith("/api/"):  # the host's default routePrefix
                path = path[4:] or "/"
            query = value.get("Query") or {}
            if isinstance(query, str):
                query = json.loads(query or "{}")
            query = {**parse_query(url.query), **query}
            headers = {k.lower(): (v[-1] if isinstance(v, list) else v) for k, v in (value.get("Headers") or {}).items()}
            body = value.get("Body")
            body = json.dumps(body).encode() if isinstance(body, (dict, list)) else (body or "").encode()
            sys_meta = (event.get("Metadata") or {}).get("sys") or {}
            return Request(value["Method"], path, headers, query, body, sys_meta.get("RandGuid", "")), binding
    raise UnsupportedEvent(f"Azure custom-handler payload has no HTTP binding in Data; supported: {SUPPORTED}")


def response_azure_custom(response: Response) -> dict:
    return {"Outputs": {"res": {"statusCode": response.status, "headers": response.all_headers(), "body": response.text()}},
            "Logs": [], "ReturnValue": None}
