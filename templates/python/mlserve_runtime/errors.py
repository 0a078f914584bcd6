"""Errors a caller may see. Each has an HTTP status and a stable code; none carries a traceback."""
from __future__ import annotations


class HttpError(Exception):
    """A request the runtime refuses, answered with `status` and a JSON body {"error": {code, message[, field]}}."""

    def __init__(self, status: int, code: str, message: str, headers: dict | None = None, field: str | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.field = field


def bad_request(message: str, code: str = "BAD_REQUEST") -> HttpError:
    return HttpError(400, code, message)


def invalid_input(field: str, problem: str) -> HttpError:
    """400 INVALID_INPUT: the request is well-formed HTTP but the model cannot take it. Names the field."""
    return HttpError(400, "INVALID_INPUT", f"{field}: {problem}", field=field)


class ArtifactIntegrityError(Exception):
    """An offloaded artifact's SHA-256 differs from the pinned one: it is never loaded."""


class UnsupportedEvent(Exception):
    """An invocation payload of no shape the runtime knows."""
