"""Direct serving for the local provider's `serve`: the server hands each accepted connection to the
workers, and a worker answers its requests itself, as a Function URL would, with no process between
the client and the handler. The server keeps its own copy of every connection, never read, so it can
still answer a request whose worker died (502), timed out or ran out of memory (504, 502), and take a
connection back for anything this path does not serve: the Invoke API, a canary or a stage whose
alias has moved, and any request it would not parse as simply as Node's server (chunked bodies,
Expect, Upgrade, HTTP/1.0, odd paths, headers or a body not yet arrived). A request is only peeked at
until it is served, so a connection taken back loses nothing.

The channel is Node's IPC channel (NODE_CHANNEL_FD): Node sends {"cmd": "NODE_HANDLE", "type":
"net.Native", "msg": {"mlserve": "conn", "id"}} with the socket attached (SCM_RIGHTS) and waits for
{"cmd": "NODE_HANDLE_ACK"} before it sends the next; the worker says which process took the
connection ("took"), gave it back ("handback") or saw it closed ("closed"). Forked siblings share
the channel: whichever is idle takes the next connection. While a request runs, its connection id,
start and request id are in a small file the server reads when it polls or when the worker dies.

No library serves HTTP on a socket received this way with Lambda's event in between; the parser is
the least the local clients need, and anything else goes back to Node's.
"""
from __future__ import annotations

import array
import base64
import json
import mmap
import os
import re
import select
import selectors
import socket
import sys
import time
import traceback
from urllib.parse import parse_qsl

from . import observability
from .context import Context, new_request_id
from .events import response_v2
from .http import COMPACT, parse_query, reason
from .http import Request as HttpRequest

PEEK = 256 * 1024  # a request larger than this (with its body) is served by Node's server
IDLE_S = 5  # Node's server closes a keep-alive connection idle this long; so do we
TEXT = re.compile(r"^(text/|application/(json|xml|javascript|x-www-form-urlencoded)|application/[\w.+-]+\+(json|xml))", re.I)
SIMPLE_PATH = re.compile(rb"^/[A-Za-z0-9\-_~:@!$&'()*+,;=/]*(\?[A-Za-z0-9\-._~:@!$&'()*+,;=/?%]*)?$")
DOT_SEGMENT = re.compile(rb"/\.\.?(/|\?|$)")
INVOKE = b"/2015-03-31/functions/"
# Header fields: an RFC 9110 token, a colon, then the value (no CR or LF in it). Neither pattern can
# backtrack beyond a line: no two parts of one can match the same character.
FIELDS = re.compile(r"(?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[^\r\n]*\r\n)*")
FIELD = re.compile(r"([^:]+):([^\r\n]*)\r\n")
METHODS = {b"GET", b"POST", b"PUT", b"PATCH", b"DELETE", b"HEAD", b"OPTIONS"}
STATE_BYTES = 128
IDLE_STATE = b" " * STATE_BYTES


def _fds(ancillary) -> list[int]:
    fds = array.array("i")
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[: len(data) - len(data) % fds.itemsize])
    return list(fds)


class Request:
    __slots__ = ("method", "target", "headers", "body", "size", "close")

    def __init__(self, method, target, headers, body, size, close):
        self.method, self.target, self.headers, self.body, self.size, self.close = method, target, headers, body, size, close


def parse(view: memoryview, max_payload: int):
    """A complete, simple HTTP/1.1 request at the start of `view`, or None to leave it to Node's server."""
    data = view.tobytes() if len(view) < 8192 else bytes(view[:8192])
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return None
    first, _, block = data[:end + 2].partition(b"\r\n")
    parts = first.split(b" ")
    if len(parts) != 3 or parts[2] != b"HTTP/1.1" or parts[0] not in METHODS:
        return None
    target = parts[1]
    if target.startswith(INVOKE) or not SIMPLE_PATH.match(target) or DOT_SEGMENT.search(target):
        return None
    text = block.decode("latin-1")
    if not FIELDS.fullmatch(text):
        return None
    fields = [(name.lower(), value.strip(" \t")) for name, value in FIELD.findall(text)]
    headers = dict(fields)
    if len(headers) < len(fields):  # a field given more than once: its values joined, as Node's path does
        headers = {}
        for key, value in fields:
            headers[key] = f"{headers[key]},{value}" if key in headers else value
    if {"transfer-encoding", "expect", "upgrade"} & headers.keys():
        return None
    length = headers.get("content-length", "0")
    if not length.isdigit():
        return None
    size = end + 4 + int(length)
    if int(length) > max_payload:
        return None  # Node answers 413
    if size > len(view):
        return None
    body = view[end + 4:size].tobytes()
    close = headers.get("connection", "").lower() == "close"
    return Request(parts[0].decode(), target.decode("latin-1"), headers, body, size, close)


def function_url_event(req: Request, request_id: str, source_ip: str) -> dict:
    """The Function URL event (payload 2.0), as providers/http-event.ts builds it for Node's path."""
    path, _, query = req.target.partition("?")
    headers = dict(req.headers)
    cookie = headers.pop("cookie", None)
    now = time.time()
    host = headers.get("host", "localhost")
    text = not req.body or bool(TEXT.match(headers.get("content-type", "")))
    event = {
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": query, "headers": headers,
        "requestContext": {
            "accountId": "anonymous", "apiId": "mlserve-local", "domainName": host, "domainPrefix": host.split(".")[0],
            "http": {"method": req.method, "path": path, "protocol": "HTTP/1.1", "sourceIp": source_ip,
                     "userAgent": headers.get("user-agent", "")},
            "requestId": request_id, "routeKey": "$default", "stage": "$default",
            "time": time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(now)), "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": not text,
    }
    if cookie is not None:
        event["cookies"] = [c for c in re.split(r";\s*", cookie) if c]
    if query:
        params: dict[str, str] = {}
        for k, v in parse_qsl(query, keep_blank_values=True):
            params[k] = f"{params[k]},{v}" if k in params else v
        if params:
            event["queryStringParameters"] = params
    if req.body:
        event["body"] = req.body.decode("utf-8", "replace") if text else base64.b64encode(req.body).decode()
    return event


def http_request(req: Request, request_id: str) -> HttpRequest:
    """The Request the bundle's Lambda handler makes of function_url_event(req) (events.request_v2),
    made without the event: the same method, path, headers (less the cookie header, which the event
    carries apart and the handler does not read), query, body and id. tests/test_direct.py holds the
    two equal."""
    path, _, query = req.target.partition("?")
    headers = dict(req.headers)
    headers.pop("cookie", None)
    body = req.body
    if body and TEXT.match(headers.get("content-type", "")):
        body = body.decode("utf-8", "replace").encode()  # the event carries a text body as a string
    return HttpRequest(req.method, path, headers, parse_query(query), body, request_id)


def http_response(result) -> tuple[int, list[tuple[str, str]], bytes]:
    """A handler result as status, headers and body (providers/http-event.ts httpResponseOf)."""
    if isinstance(result, dict) and "statusCode" in result:
        headers = [(str(k), str(v)) for k, v in (result.get("headers") or {}).items()]
        headers += [("set-cookie", c) for c in result.get("cookies") or []]
        body = result.get("body")
        if body is None:
            data = b""
        else:
            data = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
        return int(result["statusCode"]), headers, data
    return 200, [("content-type", "application/json")], json.dumps(result, separators=(",", ":"), default=str).encode()


FRAMING = frozenset(("content-length", "connection", "transfer-encoding", "keep-alive"))  # ours to set
UNSAFE = re.compile(r"[\r\n\0]")
_date = [0, ""]  # the Date header, made once a second


def encode(status: int, headers: list[tuple[str, str]], body: bytes, close: bool) -> bytes:
    lines = [f"HTTP/1.1 {status} {reason(status) or 'Unknown'}"]
    for name, value in headers:
        if name.lower() in FRAMING:
            continue
        if not name or UNSAFE.search(name) or UNSAFE.search(value):
            raise ValueError(f"invalid header {name!r}")
        lines.append(f"{name}: {value}")
    lines.append(f"content-length: {len(body)}")
    now = int(time.time())
    if _date[0] != now:
        _date[:] = now, time.strftime("date: %a, %d %b %Y %H:%M:%S GMT", time.gmtime(now))
    lines.append(_date[1])
    lines.append("connection: close" if close else "connection: keep-alive\r\nkeep-alive: timeout=5")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class Alias:
    """Whether this worker's version still takes the stage's traffic alone: re-read only when the
    alias file is replaced (promote and rollback write it atomically)."""

    def __init__(self, path: str, version: int, pinned: bool):
        self.path, self.version, self.pinned = path, str(version), pinned
        self.stamp: tuple | None = None
        self.mine = False

    def serves_here(self) -> bool:
        if self.pinned:
            return True
        try:
            info = os.stat(self.path)
            stamp = (info.st_ino, info.st_mtime_ns, info.st_size)
        except FileNotFoundError:
            stamp = None
        if stamp != self.stamp:
            self.stamp = stamp
            try:
                with open(self.path, "rb") as f:
                    alias = json.load(f)
                self.mine = str(alias.get("version")) == self.version and not alias.get("canary")
            except (OSError, ValueError):
                self.mine = False
        return self.mine


class Server:
    """One worker's loop: requests from the pool's pipe (fd 3, as in worker.main) and from the
    connections it took, one at a time."""

    def __init__(self, handler, serve_message, channel_fd: int, settings: dict):
        self.handler, self.serve_message = handler, serve_message
        # The Lambda handler (aws.make_handler) exposes the HTTP entry behind it; an Azure bundle's
        # adapter does not, and gets the Function URL event.
        self.serve_http = getattr(handler, "serve_http", None)
        self.channel = socket.socket(fileno=channel_fd)
        self.channel.setblocking(False)  # siblings share it: whoever reads first takes the connection
        self.alias = Alias(settings["alias"], settings["version"], settings["pinned"])
        self.version = str(settings["version"])
        self.max_payload = int(settings["max_payload"])
        self.timeout_ms = int(settings["timeout_ms"])
        self.queue = int(settings.get("queue") or 25)
        self.buffer = bytearray(PEEK)
        self.selector = selectors.DefaultSelector()
        self.conns: dict[socket.socket, list] = {}  # socket: [id, peer ip, last active]
        self.pending = b""
        self.records: list[tuple[float, dict]] = []
        self.pid = os.getpid()
        self.log = os.open(settings["log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        state = f"{os.environ['MLSERVE_TMP']}.inflight"
        with open(state, "wb") as f:
            f.write(IDLE_STATE)
        with open(state, "r+b") as f:
            self.state = mmap.mmap(f.fileno(), STATE_BYTES)

    def run(self, requests_fd: int) -> None:
        os.set_blocking(requests_fd, False)
        self.selector.register(requests_fd, selectors.EVENT_READ, "pipe")
        self.selector.register(self.channel, selectors.EVENT_READ, "channel")
        self.lines = b""
        while True:
            ready = self.selector.select(1.0)
            waiting = [key.fileobj for key, _ in ready if key.data == "conn"]
            for conn in waiting[self.queue + 1:]:  # past the pool's capacity (worker-pool.ts sets queue): 429 now, as the pool does
                self.serve(conn, throttle=True)
            for key, _ in ready:
                if key.data == "pipe" and not self.from_pool(requests_fd):
                    return  # the pool closed our pipe: the worker ends
                if key.data == "channel":
                    self.receive()
            for conn in waiting[: self.queue + 1]:
                if conn in self.conns:
                    self.serve(conn)
            self.close_idle()

    def from_pool(self, fd: int) -> bool:
        """Requests the pool sent down the pipe (worker.py's protocol); False at its end."""
        try:
            chunk = os.read(fd, 1 << 16)
        except BlockingIOError:
            return True
        if not chunk:
            return False
        *complete, self.lines = (self.lines + chunk).split(b"\n")
        for line in complete:
            self.serve_message(json.loads(line))
        return True

    def tell(self, message: dict, ack: bool = False) -> None:
        text = json.dumps(message) + "\n"
        self.channel.sendall(((('{"cmd":"NODE_HANDLE_ACK"}\n') if ack else "") + text).encode())

    def receive(self) -> None:
        """New connections from the server (a sibling may have read them first)."""
        try:
            data, ancillary, _, _ = self.channel.recvmsg(1 << 16, socket.CMSG_SPACE(4 * 16))
        except (BlockingIOError, InterruptedError):
            return
        if not data:
            self.selector.unregister(self.channel)  # the server is gone; our pipe closes next
            return
        fds = _fds(ancillary)
        # Node writes each message whole, with its socket, and the next only after our ACK: a read
        # holds whole messages (SCM_RIGHTS messages are never coalesced), whichever sibling makes it.
        *complete, self.pending = (self.pending + data).split(b"\n")
        for line in complete:
            message = json.loads(line)
            if message.get("cmd") != "NODE_HANDLE":
                continue
            conn_id = message["msg"]["id"]
            if not fds:  # its socket did not come (cannot happen but by a kernel's limit): the server keeps it
                self.tell({"mlserve": "handback", "id": conn_id}, ack=True)
                continue
            conn = socket.socket(fileno=fds.pop(0))
            self.tell({"mlserve": "took", "id": conn_id, "pid": self.pid}, ack=True)
            try:
                peer = conn.getpeername()[0]
            except OSError:
                peer = "127.0.0.1"
            self.conns[conn] = [conn_id, peer, time.monotonic()]
            self.selector.register(conn, selectors.EVENT_READ, "conn")
        for fd in fds:
            os.close(fd)

    def drop(self, conn: socket.socket, why: str) -> None:
        """Stop serving a connection: closed (by the client, an error or idleness), or given back."""
        conn_id = self.conns.pop(conn)[0]
        self.selector.unregister(conn)
        conn.close()  # our copy only: the server keeps the connection (it closes it on "closed")
        self.tell({"mlserve": why, "id": conn_id})

    def close_idle(self) -> None:
        now = time.monotonic()
        for conn, (_, _, active) in list(self.conns.items()):
            if now - active > IDLE_S:
                self.drop(conn, "closed")

    def serve(self, conn: socket.socket, throttle: bool = False) -> None:
        """The next request on a connection, answered here (429 when `throttle`), or the connection handed back."""
        try:
            n = conn.recv_into(self.buffer, PEEK, socket.MSG_PEEK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            return self.drop(conn, "closed")
        if n == 0:
            return self.drop(conn, "closed")
        req = parse(memoryview(self.buffer)[:n], self.max_payload)
        if req is None or not self.alias.serves_here():
            return self.drop(conn, "handback")
        conn.recv_into(self.buffer, req.size)  # the bytes just peeked, now taken
        record = self.conns[conn]
        request_id = new_request_id()
        self.state[:] = f"{record[0]} {int(time.time() * 1000)} {request_id}".encode().ljust(STATE_BYTES)
        try:
            answer = self.throttled(req, request_id) if throttle else self.answer(req, request_id, record[1])
        finally:
            self.state[:] = IDLE_STATE
            sys.stdout.flush()
            sys.stderr.flush()
        sent = self.send(conn, answer)
        self.write_records()  # after the answer is on its way: the client does not wait for the log
        if not sent:
            return self.drop(conn, "closed")
        record[2] = time.monotonic()
        if req.close:
            self.drop(conn, "closed")

    def ids(self, request_id: str) -> list[tuple[str, str]]:
        return [("x-mlserve-version", self.version), ("x-amzn-requestid", request_id)]

    def failed(self, req: Request, status: int, code: str, message: str, request_id: str | None) -> bytes:
        """An error answer in the body and headers server.ts gives the same failure."""
        error = {"code": code, "message": message, **({"request_id": request_id} if request_id else {})}
        headers = [("content-type", "application/json"), *(self.ids(request_id) if request_id else [])]
        return encode(status, headers, json.dumps({"error": error}).encode(), req.close)

    def throttled(self, req: Request, request_id: str) -> bytes:
        return self.failed(req, 429, "TOO_MANY_REQUESTS", "every worker is busy and the queue is full (resources.concurrency); retry later", request_id)

    def answer(self, req: Request, request_id: str, peer: str) -> bytes:
        observability.record_sink = self.record
        try:
            if self.serve_http is not None:  # the Lambda handler's own HTTP entry, spared the event's round trip
                result = response_v2(self.serve_http(http_request(req, request_id)))
            else:
                context = Context(request_id, time.time() * 1000 + self.timeout_ms)
                result = self.handler(function_url_event(req, request_id, peer), context)
        except Exception as exc:  # a function error, as the pool's path answers it (server.ts failure())
            traceback.print_exc()
            return self.failed(req, 502, "FUNCTION_ERROR", f"{type(exc).__name__}: {exc}", request_id)
        finally:
            observability.record_sink = None
        try:
            status, headers, body = http_response(result)
            ids = self.ids(request_id)
            names = {name for name, _ in ids}
            headers = [(k, v) for k, v in headers if k.lower() not in names] + ids
            return encode(status, headers, b"" if req.method == "HEAD" else body, req.close)
        except (ValueError, TypeError, UnicodeEncodeError) as exc:  # Node's server refuses such a response too
            print(f"mlserve: the handler's response cannot be sent: {exc}", file=sys.stderr)
            return self.failed(req, 500, "SERVER_ERROR", "internal error in the local server", None)

    def record(self, record: dict) -> None:
        """A request record (observability.emit), kept until the answer is sent."""
        self.records.append((time.time(), record))

    def write_records(self) -> None:
        """The records kept, appended to the stage's log as the server writes its lines (one write, so
        lines never interleave), sparing the server a wakeup per request."""
        if not self.records:
            return
        entries = []
        for now, record in self.records:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"
            entry = {"time": stamp, "version": int(self.version), "pid": self.pid, "message": observability.LINE.encode(record)}
            entries.append(COMPACT.encode(entry) + "\n")
        self.records.clear()
        os.write(self.log, "".join(entries).encode())

    def send(self, conn: socket.socket, data: bytes) -> bool:
        """All of `data` on a non-blocking socket (its flag is shared with the server's copy, so it
        stays non-blocking); False when the client is gone or stops reading for the idle time."""
        view = memoryview(data)
        while view:
            try:
                view = view[conn.send(view):]
            except (BlockingIOError, InterruptedError):
                if not select.select([], [conn], [], IDLE_S)[1]:
                    return False
            except OSError:
                return False
        return True
