"""Lambda's context object: the attributes handlers use, for the local worker and the Runtime API client.
Also the request ids the local worker and the runtime make up when a caller sent none."""
from __future__ import annotations

import os
import threading
import time
import uuid

_process: dict = {}  # what a Context takes from the process (environment, pid): read once per process
_random = bytearray()  # random bytes for request ids, drawn 4 KiB at a time (one getrandom per 256 ids)
_taking = threading.Lock()


def _after_fork() -> None:
    global _taking
    _taking = threading.Lock()  # a fork may have copied it held
    _process.clear()
    _random.clear()  # a fork must never repeat its parent's ids


os.register_at_fork(after_in_child=_after_fork)


def _from_process() -> dict:
    if not _process:
        name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "mlserve-local")
        _process.update(
            name=name, version=os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
            memory=os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024"),
            group=os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", f"/aws/lambda/{name}"),
            stream=os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", f"local/{os.getpid()}"))
    return _process


def new_request_id() -> str:
    """A random (version 4) UUID, as uuid.uuid4() makes, from os.urandom bytes drawn in bulk. Locked:
    Azure's Python worker runs a synchronous function on a pool of threads."""
    with _taking:
        if not _random:
            _random.extend(os.urandom(4096))
        raw = int.from_bytes(_random[-16:], "big")
        del _random[-16:]
    return str(uuid.UUID(int=raw, version=4))


class Context:
    def __init__(self, request_id: str, deadline_ms: float, invoked_function_arn: str | None = None):
        env = _from_process()
        self.aws_request_id = request_id
        self.function_name = env["name"]
        self.function_version = env["version"]
        self.memory_limit_in_mb = env["memory"]
        self.invoked_function_arn = invoked_function_arn or f"arn:aws:lambda:local:000000000000:function:{env['name']}:{env['version']}"
        self.log_group_name = env["group"]
        self.log_stream_name = env["stream"]
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int(self._deadline_ms - time.time() * 1000))
