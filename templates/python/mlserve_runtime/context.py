"""Lambda's context object: the attributes handlers use, for the local worker and the Runtime API client."""
from __future__ import annotations

import os
import time


class Context:
    def __init__(self, request_id: str, deadline_ms: float, invoked_function_arn: str | None = None):
        name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "mlserve-local")
        version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.aws_request_id = request_id
        self.function_name = name
        self.function_version = version
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024")
        self.invoked_function_arn = invoked_function_arn or f"arn:aws:lambda:local:000000000000:function:{name}:{version}"
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", f"/aws/lambda/{name}")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", f"local/{os.getpid()}")
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int(self._deadline_ms - time.time() * 1000))
