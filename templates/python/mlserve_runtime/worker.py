"""The local provider's worker: runs the bundle's own entry, one invocation at a time, as a Lambda
execution environment would: Lambda's mlserve_handler.handler, or, in an Azure Functions bundle
(function_app.py and no Lambda handler), the Azure adapter function_app.py calls.

Protocol: newline-delimited JSON on fd 3 (requests in) and fd 4 (replies out), so the handler's own
stdout/stderr stay free for logs. First reply: {"type": "ready", "init_ms"} or {"type": "init_error",
"error"}. Then for each {"id", "event", "deadline_ms", "request_id"}: {"id", "ok": true, "result"} or
{"id", "ok": false, "error": {"errorType", "errorMessage", "stackTrace"}}.
"""
from __future__ import annotations

import json
import os
import sys
import time
import traceback

from .context import Context


def _error(exc: BaseException) -> dict:
    return {"errorType": type(exc).__name__, "errorMessage": str(exc),
            "stackTrace": traceback.format_exception(type(exc), exc, exc.__traceback__)}


def _entry():
    """The bundle's handler: Lambda's, else (an Azure bundle) the Azure adapter behind Lambda's shape."""
    if os.path.exists("function_app.py") and not os.path.exists("mlserve_handler.py"):
        from .azure import local_handler

        return local_handler(os.getcwd())
    import mlserve_handler

    return mlserve_handler.handler


def main() -> None:
    requests = os.fdopen(3, "rb")  # buffered: an unbuffered readline() is one syscall per byte
    replies = os.fdopen(4, "wb")

    def reply(message: dict) -> None:
        replies.write((json.dumps(message, default=str) + "\n").encode())
        replies.flush()

    started = time.perf_counter()
    try:
        handler = _entry()
    except BaseException as exc:  # report why the bundle cannot start, then exit like Lambda's init failure
        traceback.print_exc()
        reply({"type": "init_error", "error": _error(exc)})
        sys.exit(1)
    reply({"type": "ready", "init_ms": round((time.perf_counter() - started) * 1000, 1), "pid": os.getpid()})

    for line in iter(requests.readline, b""):
        message = json.loads(line)
        context = Context(message.get("request_id", ""), message.get("deadline_ms", time.time() * 1000 + 3000))
        try:
            result = handler(message["event"], context)
            reply({"id": message["id"], "ok": True, "result": result})
        except Exception as exc:  # a function error, reported like Lambda's Unhandled error
            traceback.print_exc()
            reply({"id": message["id"], "ok": False, "error": _error(exc)})
        sys.stdout.flush()
        sys.stderr.flush()


if __name__ == "__main__":
    main()
