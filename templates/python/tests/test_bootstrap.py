"""The stdlib Runtime API client (mlserve_runtime.bootstrap), the entrypoint of an image whose base has
no runtime interface client, driven by a stand-in of the Lambda Runtime API.

The Runtime API exists only inside Lambda (AWS's emulator is a Go binary not packaged for Debian), so
the stand-in follows the published contract, https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html:
GET /2018-06-01/runtime/invocation/next answers an event with Lambda-Runtime-Aws-Request-Id,
-Deadline-Ms, -Invoked-Function-Arn and -Trace-Id headers and blocks while there is none; the runtime
POSTs .../invocation/{id}/response or .../invocation/{id}/error, or /runtime/init/error; each is 202.
"""
import json
import os
import queue
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from test_aws_events import with_prediction_request

from conftest import make_bundle

ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]
ARN = "arn:aws:lambda:us-east-1:123456789012:function:iris-dev:prod"


class RuntimeApi:
    def __init__(self, events):
        self.events = queue.Queue()
        for e in events:
            self.events.put(e)
        self.posts = queue.Queue()
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path != "/2018-06-01/runtime/invocation/next":
                    return self._answer(404, b"{}")
                request_id, event = api.events.get()  # blocks, as Lambda's does, until there is work
                self.send_response(200)
                self.send_header("Lambda-Runtime-Aws-Request-Id", request_id)
                self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30_000))
                self.send_header("Lambda-Runtime-Invoked-Function-Arn", ARN)
                self.send_header("Lambda-Runtime-Trace-Id", "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419")
                body = json.dumps(event).encode()
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                api.posts.put((self.path, body, self.headers.get("Lambda-Runtime-Function-Error-Type")))
                self._answer(202, b'{"status": "OK"}')

            def _answer(self, status, body):
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.address = f"127.0.0.1:{self.server.server_address[1]}"

    def next_post(self, timeout=60):
        return self.posts.get(timeout=timeout)


def start(bundle, api, handler="mlserve_handler.handler"):
    env = {**os.environ, "AWS_LAMBDA_RUNTIME_API": api.address, "PYTHONPATH": bundle, "AWS_LAMBDA_FUNCTION_NAME": "iris-dev"}
    return subprocess.Popen([sys.executable, "-m", "mlserve_runtime.bootstrap", handler], cwd=bundle, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_answers_each_event_through_the_runtime_api_and_survives_a_function_error(tmp_path, event):
    bundle, info = make_bundle(tmp_path, "sklearn-classifier")
    (tmp_path / "bundle-sklearn-classifier" / "raising.py").write_text(
        "def handler(event, context):\n"
        "    if event.get('boom'):\n"
        "        raise ValueError('boom at ' + context.invoked_function_arn)\n"
        "    return {'remaining_ok': 0 < context.get_remaining_time_in_millis() <= 30_000, 'id': context.aws_request_id}\n")
    api = RuntimeApi([("req-1", with_prediction_request(event("aws/function-url.json"), {"instances": ROWS}))])
    proc = start(bundle, api)
    try:
        path, body, _ = api.next_post()
        assert path == "/2018-06-01/runtime/invocation/req-1/response"
        assert body["statusCode"] == 200
        assert json.loads(body["body"]) == {"predictions": info["predictions"][:2]}
    finally:
        proc.kill()
        proc.wait()

    api = RuntimeApi([("req-2", {"boom": True}), ("req-3", {})])
    proc = start(bundle, api, "raising.handler")
    try:
        path, body, error_type = api.next_post()
        assert path == "/2018-06-01/runtime/invocation/req-2/error"
        assert error_type == "Unhandled"
        assert body["errorType"] == "ValueError" and body["errorMessage"] == f"boom at {ARN}"
        # The environment stays up: the next event is answered.
        assert api.next_post() == ("/2018-06-01/runtime/invocation/req-3/response", {"remaining_ok": True, "id": "req-3"}, None)
    finally:
        proc.kill()
        proc.wait()


def test_a_handler_that_cannot_be_imported_reports_an_init_error_and_exits(tmp_path):
    bundle, _ = make_bundle(tmp_path, "sklearn-classifier")
    api = RuntimeApi([])
    proc = start(bundle, api, "no_such_module.handler")
    path, body, error_type = api.next_post()
    assert path == "/2018-06-01/runtime/init/error"
    assert error_type == "Runtime.ImportModuleError"
    assert body["errorType"] == "Runtime.ImportModuleError" and "no_such_module" in body["errorMessage"]
    assert proc.wait(timeout=30) == 1
