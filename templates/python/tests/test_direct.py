"""direct.py: what a worker serves itself, and what it leaves to the server (None: handed back)."""
import base64
import json

import pytest

from mlserve_runtime.direct import encode, function_url_event, http_request, http_response, parse
from mlserve_runtime.events import request_v2, response_v2

MAX = 6 * 1024 * 1024


def _req(head: str, body: bytes = b"") -> memoryview:
    return memoryview(head.replace("\n", "\r\n").encode() + b"\r\n" + body)


def test_a_simple_request_is_parsed_whole_with_its_body():
    body = b'{"instances": [[1, 2]]}'
    view = _req(f"POST /v1/models/iris:predict?probabilities=1 HTTP/1.1\nHost: 127.0.0.1:8080\nContent-Type: application/json\nX-Tag: a\nx-tag: b\nContent-Length: {len(body)}\n", body)
    req = parse(view, MAX)
    assert (req.method, req.target, req.body, req.size, req.close) == ("POST", "/v1/models/iris:predict?probabilities=1", body, len(view), False)
    assert req.headers == {"host": "127.0.0.1:8080", "content-type": "application/json", "x-tag": "a,b", "content-length": str(len(body))}


def test_pipelined_requests_are_taken_one_at_a_time():
    one = _req("GET /v2/health/ready HTTP/1.1\nHost: x\nConnection: close\n").tobytes()
    req = parse(memoryview(one + one), MAX)
    assert req.size == len(one) and req.close


@pytest.mark.parametrize("head, body", [
    ("POST /2015-03-31/functions/iris/invocations HTTP/1.1\nContent-Length: 2\n", b"{}"),  # the Invoke API
    ("POST / HTTP/1.0\nContent-Length: 2\n", b"{}"),
    ("POST / HTTP/1.1\nTransfer-Encoding: chunked\n", b"2\r\n{}\r\n0\r\n\r\n"),
    ("POST / HTTP/1.1\nExpect: 100-continue\nContent-Length: 2\n", b""),
    ("GET / HTTP/1.1\nUpgrade: websocket\nConnection: Upgrade\n", b""),
    ("GET /a/../b HTTP/1.1\n", b""),  # Node's URL would resolve it
    ("GET /a%2Fb HTTP/1.1\n", b""),  # percent-encoded path: Node's server decides
    ("GET / HTTP/1.1\nBad Header: x\n", b""),
    ("POST / HTTP/1.1\nContent-Length: 10\n", b"{}"),  # the body has not all arrived
    ("POST / HTTP/1.1\nContent-Length: -1\n", b""),
    (f"POST / HTTP/1.1\nContent-Length: {MAX + 1}\n", b""),  # over Lambda's payload limit: the server answers 413
    ("BREW / HTTP/1.1\n", b""),
])
def test_anything_else_is_left_to_the_server(head, body):
    assert parse(_req(head, body), MAX) is None


def test_headers_not_all_arrived_are_left_to_the_server():
    assert parse(memoryview(b"POST / HTTP/1.1\r\nHost: x\r\n"), MAX) is None


def test_the_event_is_a_function_url_event():
    view = _req("POST /v1/models/iris:predict?a=1&a=2&b=x+y HTTP/1.1\nHost: abc.example:8080\nCookie: s=1; t=2\nUser-Agent: curl\nContent-Type: application/json\nContent-Length: 2\n", b"{}")
    event = function_url_event(parse(view, MAX), "req-1", "127.0.0.9")
    assert event["rawPath"] == "/v1/models/iris:predict" and event["rawQueryString"] == "a=1&a=2&b=x+y"
    assert event["queryStringParameters"] == {"a": "1,2", "b": "x y"}
    assert event["cookies"] == ["s=1", "t=2"] and "cookie" not in event["headers"]
    assert event["body"] == "{}" and event["isBase64Encoded"] is False
    ctx = event["requestContext"]
    assert ctx["http"] == {"method": "POST", "path": "/v1/models/iris:predict", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.9", "userAgent": "curl"}
    assert (ctx["requestId"], ctx["domainName"], ctx["domainPrefix"]) == ("req-1", "abc.example:8080", "abc")


def test_a_binary_body_is_base64():
    view = _req("POST /x HTTP/1.1\nContent-Type: application/octet-stream\nContent-Length: 3\n", b"\x00\xff\x01")
    event = function_url_event(parse(view, MAX), "r", "127.0.0.1")
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == b"\x00\xff\x01"


def test_handler_results_become_responses():
    assert http_response({"statusCode": 201, "headers": {"a": "b"}, "body": "hi", "cookies": ["c=1"]}) == (201, [("a", "b"), ("set-cookie", "c=1")], b"hi")
    assert http_response({"statusCode": 200, "body": base64.b64encode(b"\x00").decode(), "isBase64Encoded": True})[2] == b"\x00"
    assert http_response({"predictions": [1]}) == (200, [("content-type", "application/json")], json.dumps({"predictions": [1]}, separators=(",", ":")).encode())


def test_encoded_responses_frame_their_body_and_refuse_header_injection():
    raw = encode(200, [("content-type", "application/json"), ("Content-Length", "999")], b"{}", close=False)
    head, body = raw.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 200 OK\r\n") and b"content-length: 2" in head and b"999" not in head
    assert b"connection: keep-alive" in head and body == b"{}"
    assert b"connection: close" in encode(404, [], b"", close=True)
    with pytest.raises(ValueError):
        encode(200, [("x", "a\r\nset-cookie: evil=1")], b"", close=False)


# Requests as a worker takes them, each asking something of the handler's reading of the event,
# with the status the handler answers.
HANDLER_CASES = [
    ("POST /v1/models/iris:predict?a=1&a=2&b=x+y&probabilities=1 HTTP/1.1\nHost: h:1\nCookie: s=1; t=2\nContent-Type: application/json\nContent-Length: 37\n",
     b'{"instances": [[5.1, 3.5, 1.4, 0.2]]}', 200),
    ("POST /v1/models/iris:predict HTTP/1.1\nContent-Type: text/plain\nContent-Length: 4\n", b"\xff{}\xfe", 400),  # not UTF-8, read as text
    ("POST /v1/models/iris:predict HTTP/1.1\nContent-Type: application/octet-stream\nContent-Length: 3\n", b"\x00\xff\x01", 400),
    ("POST /v2/models/iris/infer HTTP/1.1\nContent-Length: 7\n", b"not jso", 400),  # no content type
    ("GET /v2/models/iris/ HTTP/1.1\nX-Many: a\nx-many: b\n", b"", 200),
    ("HEAD /v2/health/ready HTTP/1.1\n", b"", 405),
    ("DELETE /nowhere?x HTTP/1.1\n", b"", 404),
]


@pytest.mark.parametrize("head, body, status", HANDLER_CASES)
def test_the_request_made_without_the_event_is_the_one_the_handler_makes_of_the_event(head, body, status):
    req = parse(_req(head, body), MAX)
    assert http_request(req, "req-1") == request_v2(function_url_event(req, "req-1", "127.0.0.1"))


@pytest.mark.parametrize("head, body, status", HANDLER_CASES)
def test_the_handler_answers_alike_through_its_http_entry_and_through_the_event(handler, head, body, status):
    handler.serve_http(http_request(parse(_req("GET /v2/health/ready HTTP/1.1\n"), MAX), "warm"))  # past the cold start
    req = parse(_req(head, body), MAX)
    direct = http_response(response_v2(handler.serve_http(http_request(req, "req-1"))))
    through_event = http_response(handler(function_url_event(req, "req-1", "127.0.0.1")))
    assert direct == through_event
    assert direct[0] == status
