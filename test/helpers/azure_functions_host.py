"""A stand-in for the Azure Functions Python worker, enough to run a published app's function_app.py.

The real host (Functions runtime + Python worker) is not available here. This loads the app the way
the worker does (app directory and .python_packages on sys.path, `function_app.app`), with a minimal
`azure.functions` module (FunctionApp, AuthLevel, HttpRequest, HttpResponse: the attributes the
Python v2 programming model documents), then answers one JSON request per stdin line:
{"method", "url", "headers", "params", "body"(base64)} -> {"status", "headers", "body"(base64)},
written to file descriptor 3 (stdout and stderr are the app's logs, as the host collects them).
The first line on fd 3 is {"auth_level": "function" | "anonymous"} once the app has loaded.
"""
import base64
import enum
import json
import os
import sys
import types


class AuthLevel(str, enum.Enum):
    ANONYMOUS = "anonymous"
    FUNCTION = "function"
    ADMIN = "admin"


class HttpRequest:
    def __init__(self, method, url, headers, params, body):
        self.method, self.url, self.headers, self.params, self._body = method, url, headers, params, body

    def get_body(self):
        return self._body


class HttpResponse:
    def __init__(self, body=None, status_code=200, headers=None, mimetype=None, charset="utf-8"):
        self.status_code = status_code
        self.headers = dict(headers or {})
        if mimetype:
            self.headers.setdefault("Content-Type", mimetype)
        self.body = body.encode(charset) if isinstance(body, str) else (body or b"")


class FunctionApp:
    def __init__(self, http_auth_level=AuthLevel.FUNCTION):
        self.auth_level = AuthLevel(http_auth_level)
        self.functions = []

    def route(self, route=None, methods=None, **_):
        def register(fn):
            self.functions.append((route, [m.upper() for m in (methods or ["GET", "POST"])], fn))
            return fn
        return register


def main(app_dir: str) -> None:
    module = types.ModuleType("azure.functions")
    module.AuthLevel, module.HttpRequest, module.HttpResponse, module.FunctionApp = AuthLevel, HttpRequest, HttpResponse, FunctionApp
    sys.modules["azure"] = types.ModuleType("azure")
    sys.modules["azure.functions"] = module
    sys.path[:0] = [app_dir, os.path.join(app_dir, ".python_packages", "lib", "site-packages")]
    os.chdir(app_dir)
    import function_app  # noqa: PLC0415 (the app loads after the stand-in module exists)

    app = function_app.app
    answers = os.fdopen(3, "w")
    print(json.dumps({"auth_level": app.auth_level.value}), file=answers, flush=True)
    for line in sys.stdin:
        req = json.loads(line)
        route, methods, fn = app.functions[0]
        if req["method"].upper() not in methods:
            out = HttpResponse("method not allowed", status_code=405)
        else:
            out = fn(HttpRequest(req["method"], req["url"], req["headers"], req["params"], base64.b64decode(req["body"])))
        print(json.dumps({"status": out.status_code, "headers": out.headers, "body": base64.b64encode(out.body).decode()}), file=answers, flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
