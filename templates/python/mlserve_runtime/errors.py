"""Errors a caller may see. Each has an HTTP status and a stable code; none carries a traceback."""
from __future__ import annotations


class HttpError(Exception):
    """A request the runtime refuses, answered with `status` and a JSON body {"error": {code, message}}."""

    def __init__(self, status: int, code: str, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def bad_request(message: str, code: str = "BAD_REQUEST") -> HttpError:
    return HttpError(400, code, message)


class ArtifactIntegrityError(Exception):
    """An offloaded artifact's SHA-256 differs from the pinned one: it is never loaded."""


class UnsupportedEvent(Exception):
    """An invocation payload of no shape the runtime knows."""
