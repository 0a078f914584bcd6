"""Input checks made before `predict`: strict JSON, numbers the model can use, the declared shape.

A request the model cannot take is the caller's fault (400 INVALID_INPUT naming the field); only a
failure inside the model or the handler is a 500.
"""
from __future__ import annotations

import json

from .errors import invalid_input


def _no_constant(name: str):
    raise ValueError(f"{name} is not a JSON value (RFC 8259 has no NaN or Infinity)")


_STRICT = json.JSONDecoder(parse_constant=_no_constant)  # made once: json.loads with options makes one per call


def strict_json(body: bytes):
    """Parse a request body as RFC 8259 JSON: NaN, Infinity and -Infinity are refused. Bytes are
    decoded as json.loads decodes them (UTF-8, -16 or -32, found from the first bytes)."""
    try:
        if isinstance(body, (bytes, bytearray)):
            body = body.decode(json.detect_encoding(body), "surrogatepass")
        elif body.startswith("\ufeff"):
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", body, 0)
        return _STRICT.decode(body)
    except UnicodeDecodeError:
        raise invalid_input("body", "is not UTF-8 text") from None
    except ValueError as e:
        raise invalid_input("body", f"is not valid JSON: {e}") from None


def numeric_array(values, field: str, dtype="float64"):
    """`values` as a numpy array of numbers; names the first element that is not one."""
    import numpy as np

    try:
        array = np.asarray(values, dtype=dtype)
    except (ValueError, TypeError, OverflowError):
        raise invalid_input(*_first_bad(values, field)) from None
    if array.dtype.kind in "fc" and not np.isfinite(array).all():
        index = tuple(int(i) for i in np.argwhere(~np.isfinite(array))[0])
        raise invalid_input(field + "".join(f"[{i}]" for i in index), f"{float(array[index].real)!r} is not a finite number")
    return array


def _first_bad(values, field: str):
    """Where a nested list stops being a rectangular array of numbers, and why."""
    if not isinstance(values, list):
        if isinstance(values, bool) or not isinstance(values, (int, float)):
            return field, f"{_show(values)} is not a number"
        return field, "is not an array of numbers"
    lengths = {len(v) for v in values if isinstance(v, list)}
    if lengths and (len(lengths) > 1 or any(not isinstance(v, list) for v in values)):
        expected = len(values[0]) if isinstance(values[0], list) else None
        for i, v in enumerate(values):
            if not isinstance(v, list) or len(v) != expected:
                got = f"{len(v)} values" if isinstance(v, list) else type(v).__name__
                return f"{field}[{i}]", f"has {got}; every row needs {expected}"
    for i, v in enumerate(values):
        if isinstance(v, list):
            found = _first_bad(v, f"{field}[{i}]")
            if found[1] != _GENERIC:
                return found
        elif isinstance(v, bool) or not isinstance(v, (int, float)):
            return f"{field}[{i}]", f"{_show(v)} is not a number"
    return field, _GENERIC


_GENERIC = "is not an array of numbers"


def rows(values, n_features, field: str = "instances"):
    """A 2-D float array of rows, checked against the model's declared feature count."""
    array = numeric_array(values, field)
    if array.ndim == 1 and n_features is not None and array.shape[0] == n_features:
        array = array.reshape(1, -1)
    if array.ndim != 2:
        raise invalid_input(field, f"expected a list of rows (2 dimensions), got an array of shape {list(array.shape)}")
    if n_features is not None and array.shape[1] != n_features:
        raise invalid_input(f"{field}[0]", f"has {array.shape[1]} features; the model takes {n_features}")
    return array


def check_shape(array, declared: list, field: str) -> None:
    """Compare an array with a declared shape (ints, or -1/None/names for any size)."""
    if array.ndim != len(declared):
        raise invalid_input(field, f"expects {len(declared)} dimensions {declared}, received shape {list(array.shape)}")
    for axis, (want, got) in enumerate(zip(declared, array.shape)):
        if isinstance(want, int) and want >= 0 and want != got:
            raise invalid_input(field, f"expects {want} values on axis {axis} (shape {declared}), received {got}")


def _show(value) -> str:
    try:
        return json.dumps(value)[:80]
    except (TypeError, ValueError):
        return repr(value)[:80]
