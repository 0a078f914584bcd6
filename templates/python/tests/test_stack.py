"""with_room: a deep call tree stops mapping a fresh frame chunk each time it crosses a chunk's edge."""
import resource
import sys

import pytest

from mlserve_runtime.stack import with_room


def _depth(n):
    return 0 if n == 0 else 1 + _depth(n - 1)


def _oscillate(times=3000, depth=300):
    """Down 300 frames and back, 3,000 times: like nested imports, across a 16 KiB chunk's edge."""
    return sum(_depth(depth) for _ in range(times))


def _faults(fn):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    result = fn()
    return result, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


def _raise(message):
    raise ValueError(message)


def test_returns_what_the_call_returns_and_raises_what_it_raises():
    assert with_room(lambda a, b=0: a + b, 2, b=3) == 5
    assert with_room(_oscillate, 10, 50) == 500
    with pytest.raises(ValueError, match="inside"):
        with_room(_raise, "inside")


@pytest.mark.skipif(sys.version_info < (3, 11), reason="frames live in stack chunks from Python 3.11 on")
def test_a_deep_call_tree_maps_no_chunk_per_crossing():
    _oscillate(10)  # warm: nothing below is a first call
    expected, plain = _faults(_oscillate)
    result, roomy = _faults(lambda: with_room(_oscillate))
    assert result == expected
    # Each crossing maps a fresh chunk, and touching it faults: thousands of faults without room.
    assert plain >= 3000, plain
    assert roomy < plain / 20, (roomy, plain)
