"""Room on the interpreter's frame stack for a deep call tree: the model's load, and its imports.

CPython 3.11 and later keep frames in chunks of 16 KiB and free a chunk as soon as the stack pops
back out of it. A call tree that keeps crossing a chunk's edge maps and unmaps memory at each
crossing, and nested imports do: numpy, scipy and scikit-learn import dozens of modules deep. A
scikit-learn init crossed 12,000 to 21,000 times on Linux here, 0.4 s of a 1.9 s cold start.

`with_room` calls through one frame sized to take just over half of a 1 MiB chunk (a chunk is the
smallest doubling of 16 KiB that holds the frame with 1,000 slots to spare). The stack allocates
that chunk once, and the call tree runs in its other half, about 4,000 ordinary frames. Only the
pages the calls use are touched. A tree deeper still goes on in chunks of its own, as before; on
Python 3.10 and earlier (a frame is an object of its own there) it is one larger allocation.
"""
from __future__ import annotations

_SLOTS = 64 * 1024 + 1  # pointers: 512 KiB and one, so the chunk is 1 MiB and half of it stays free


def _call(fn, *args, **kwargs):
    return fn(*args, **kwargs)


# A larger co_stacksize only reserves more of the frame: the interpreter uses what the bytecode needs.
_call.__code__ = _call.__code__.replace(co_stacksize=_SLOTS)


def with_room(fn, *args, **kwargs):
    """fn(*args, **kwargs), run with a frame stack chunk of its own to grow in."""
    return _call(fn, *args, **kwargs)
