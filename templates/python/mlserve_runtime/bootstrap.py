"""A client of the Lambda Runtime API in the standard library, the entrypoint of an image whose base
has no runtime interface client: `python3 -m mlserve_runtime.bootstrap mlserve_handler.handler`.

It follows https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html: import the handler (on
failure POST /runtime/init/error and exit), then forever GET /runtime/invocation/next (which blocks
until there is an event), call the handler with the event and a context built from the response's
headers, and POST its result to /runtime/invocation/{id}/response, or the exception to
/runtime/invocation/{id}/error.
"""
from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
import urllib.request

from .context import Context

API_VERSION = "2018-06-01"


def _error(exc: BaseException, error_type: str | None = None) -> dict:
    return {"errorType": error_type or type(exc).__name__, "errorMessage": str(exc),
            "stackTrace": traceback.format_exception(type(exc), exc, exc.__traceback__)}


def _post(url: str, body: object, headers: dict | None = None) -> None:
    data = json.dumps(body, default=str).encode()
    request = urllib.request.Request(url, data=data, method="POST",
                                     headers={"Content-Type": "application/json", **(headers or {})})
    with urllib.request.urlopen(request) as response:
        response.read()


def _load(name: str):
    module_name, _, function = name.rpartition(".")
    if not module_name:
        raise ValueError(f"handler {name!r} is not module.function")
    return getattr(importlib.import_module(module_name), function)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    name = args[0] if args else os.environ.get("_HANDLER", "mlserve_handler.handler")
    base = f"http://{os.environ['AWS_LAMBDA_RUNTIME_API']}/{API_VERSION}/runtime"
    try:
        handler = _load(name)
    except Exception as exc:  # the init error Lambda reports, then this environment ends
        traceback.print_exc()
        _post(f"{base}/init/error", _error(exc, "Runtime.ImportModuleError"),
              {"Lambda-Runtime-Function-Error-Type": "Runtime.ImportModuleError"})
        sys.exit(1)
    while True:
        with urllib.request.urlopen(f"{base}/invocation/next") as response:  # no timeout: it waits for work
            headers = response.headers
            request_id = headers["Lambda-Runtime-Aws-Request-Id"]
            deadline = float(headers.get("Lambda-Runtime-Deadline-Ms") or time.time() * 1000 + 3000)
            if headers.get("Lambda-Runtime-Trace-Id"):
                os.environ["_X_AMZN_TRACE_ID"] = headers["Lambda-Runtime-Trace-Id"]
            event = json.loads(response.read() or b"null")
        context = Context(request_id, deadline, headers.get("Lambda-Runtime-Invoked-Function-Arn"))
        try:
            result = handler(event, context)
        except Exception as exc:  # a function error: reported, and the environment stays up
            traceback.print_exc()
            _post(f"{base}/invocation/{request_id}/error", _error(exc),
                  {"Lambda-Runtime-Function-Error-Type": "Unhandled"})
        else:
            _post(f"{base}/invocation/{request_id}/response", result)
        sys.stdout.flush()


if __name__ == "__main__":
    main()
