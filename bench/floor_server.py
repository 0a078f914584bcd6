"""The floor for `npm run bench`: a minimal threaded http.server that calls model.predict directly,
one process per core sharing the listening socket (pre-fork, as gunicorn does).
Usage: floor_server.py <model.joblib> <port-file>. Writes the port it listens on to port-file."""
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import joblib
import numpy as np

MODEL = joblib.load(sys.argv[1])


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the mlserve server does
    disable_nagle_algorithm = True  # else headers and body in two writes wait on delayed ACKs (~40 ms)

    def do_POST(self):
        body = self.rfile.read(int(self.headers["content-length"]))
        out = json.dumps({"predictions": MODEL.predict(np.asarray(json.loads(body)["instances"])).tolist()}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
for _ in range((os.cpu_count() or 1) - 1):
    if os.fork() == 0:
        break  # a child serves the same socket; the parent forks the rest
else:
    with open(sys.argv[2], "w") as f:
        f.write(str(server.server_address[1]))
server.serve_forever()
