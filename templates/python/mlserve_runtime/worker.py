"""The local provider's worker: runs the bundle's own entry, one invocation at a time, as a Lambda
execution environment would: Lambda's mlserve_handler.handler, or, in an Azure Functions bundle
(function_app.py and no Lambda handler), the Azure adapter function_app.py calls.

Protocol: newline-delimited JSON on fd 3 (requests in) and fd 4 (replies out), so the handler's own
stdout/stderr stay free for logs. First reply: {"type": "ready", "init_ms", "pid"} or {"type":
"init_error", "error"}. Then for each {"id", "event", "deadline_ms", "request_id"}: {"id", "ok": true,
"result"} or {"id", "ok": false, "error": {"errorType", "errorMessage", "stackTrace"}}.

Siblings: when MLSERVE_FORK_TMPS lists n /tmp directories, the pool has also given this process n
more sets of four pipes (stdout, stderr, requests, replies) from fd 5 on. After its init it forks n
workers that start where it is, the handler imported and the model loaded, each on its own set of
pipes and its own /tmp, so a pool of n + 1 is ready in one init instead of n + 1 inits run at once,
and shares the model's pages. A fork carries only the calling thread and shares every open
connection, so it is refused when the init left a thread a fork would lose, or a connection; the
ready reply then carries "fork_refused" with the reason (also when a fork fails), and the pool
starts the workers that were not forked itself.

Direct serving: under `serve`, the pool also gives the worker Node's IPC channel (NODE_CHANNEL_FD)
and MLSERVE_DIRECT; the worker then takes connections from that channel and answers their requests
itself (direct.py), and still serves the pipe's requests in the same loop. Siblings share the channel.
"""
from __future__ import annotations

import gc
import json
import os
import shutil
import sys
import tempfile
import time
import traceback
import warnings

from .context import Context


def _error(exc: BaseException) -> dict:
    return {"errorType": type(exc).__name__, "errorMessage": str(exc),
            "stackTrace": traceback.format_exception(type(exc), exc, exc.__traceback__)}


def _entry():
    """The bundle's handler: Lambda's, else (an Azure bundle) the Azure adapter behind Lambda's shape."""
    if os.path.exists("function_app.py") and not os.path.exists("mlserve_handler.py"):
        from .azure import local_handler

        return local_handler(os.getcwd())
    import mlserve_handler

    return mlserve_handler.handler


SIBLING_FDS = 5  # the first sibling's stdout; each sibling has four: stdout, stderr, requests, replies


def _threads() -> int:
    return len(os.listdir("/proc/self/task"))


def _fork_hazard(sibling_fds: range, channel: int | None) -> tuple[str | None, int]:
    """Why forking now would be unsafe (or None), and the pid of a probe child to reap (or 0). Only
    the forking thread lives on in a child: a library whose threads would be missing there
    (onnxruntime's pool, OpenMP's) hangs in it. The libraries that are safe (OpenBLAS) stop their
    threads before a fork, so a first fork that exits at once tells them apart: what still runs
    after it is unsafe. A connection would be shared."""
    probe = 0
    try:
        if _threads() > 1:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+ warns of any fork with threads
                probe = os.fork()
            if probe == 0:
                os._exit(0)
        threads = _threads()
        if threads > 1 and probe:  # a thread may still be on its way out: give it the probe's exit
            os.waitpid(probe, 0)
            probe = 0
            threads = _threads()
        fds = os.listdir("/proc/self/fd")
    except OSError:
        return "this system has no /proc to count the init's threads and connections by", probe
    if threads > 1:
        return f"the init left {threads - 1} thread(s) running that a fork would not copy", probe
    for fd in map(int, fds):
        if fd > 4 and fd not in sibling_fds and fd != channel:
            try:
                if os.readlink(f"/proc/self/fd/{fd}").startswith("socket:"):
                    return f"the init opened a connection (fd {fd}) that forked workers would share", probe
            except OSError:
                pass  # the fd listing itself, closed by now
    return None, probe


def _become_sibling(index: int, count: int, tmp: str) -> None:
    """In a forked child: take sibling `index`'s pipes as fds 1-4 and its own copy of /tmp."""
    base = SIBLING_FDS + 4 * index
    for offset in range(4):
        os.dup2(base + offset, 1 + offset)
    os.closerange(SIBLING_FDS, SIBLING_FDS + 4 * count)
    shutil.copytree(os.environ["TMPDIR"], tmp, symlinks=True, dirs_exist_ok=True)  # what init left in /tmp
    os.environ["TMPDIR"] = os.environ["MLSERVE_TMP"] = tmp
    tempfile.tempdir = None  # tempfile caches the directory
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed()  # numpy's global generator does not reseed after a fork; Python's random does


def _fork_siblings(tmps: list[str], channel: int | None) -> tuple[bool, list[int], str | None]:
    """Fork one worker per directory in `tmps`. Returns (True, [], None) in a child, else (False, the
    pids forked, why not all of them were). The server's channel (direct serving) is shared by all."""
    why, probe = _fork_hazard(range(SIBLING_FDS, SIBLING_FDS + 4 * len(tmps)), channel)
    pids: list[int] = []
    if why is None:
        sys.stdout.flush()
        sys.stderr.flush()
        for index, tmp in enumerate(tmps):
            try:
                pid = os.fork()
            except OSError as exc:  # out of memory or processes: the pool starts the rest
                why = f"fork failed: {exc}"
                break
            if pid == 0:
                try:
                    _become_sibling(index, len(tmps), tmp)
                except BaseException:  # never unwind into the parent's stack (its finally blocks, atexit)
                    traceback.print_exc()
                    os._exit(1)
                return True, [], None
            pids.append(pid)  # never reaped here: the pool reads a dead sibling's exit status from /proc
    os.closerange(SIBLING_FDS, SIBLING_FDS + 4 * len(tmps))  # the pool sees the unforked ones' pipes close
    if probe:
        os.waitpid(probe, 0)  # reaped after the forks, not before: its exit takes longer than they do
    return False, pids, why


def _direct() -> tuple[int | None, dict | None]:
    """The server's channel and settings when it hands this worker connections (direct.py), taken
    out of the environment so nothing the handler starts inherits them."""
    settings = os.environ.pop("MLSERVE_DIRECT", None)
    channel = os.environ.pop("NODE_CHANNEL_FD", None)
    os.environ.pop("NODE_CHANNEL_SERIALIZATION_MODE", None)
    if settings is None or channel is None:
        return None, None
    os.set_inheritable(int(channel), False)
    return int(channel), json.loads(settings)


def main() -> None:
    tmps = [p for p in os.environ.pop("MLSERVE_FORK_TMPS", "").split(os.pathsep) if p]
    channel, direct = _direct()
    replies = os.fdopen(4, "wb")

    def reply(message: dict) -> None:
        replies.write((json.dumps(message, default=str) + "\n").encode())
        replies.flush()

    started = time.perf_counter()
    try:
        handler = _entry()
    except BaseException as exc:  # report why the bundle cannot start, then exit like Lambda's init failure
        traceback.print_exc()
        reply({"type": "init_error", "error": _error(exc)})
        sys.exit(1)
    ready = {"type": "ready", "init_ms": round((time.perf_counter() - started) * 1000, 1), "direct": channel is not None}
    # What the init made (the framework's modules, the model) lives as long as the process: out of
    # the collector's reach, a full collection no longer walks it, and a forked sibling's collections
    # never write to the pages it shares with this worker (the gc module's advice for a fork).
    gc.freeze()
    if tmps:
        forked, siblings, why = _fork_siblings(tmps, channel)
        ready.update(forked=forked, siblings=siblings)
        if why is not None:
            ready["fork_refused"] = why
    reply({**ready, "pid": os.getpid()})

    def serve_message(message: dict) -> None:
        context = Context(message.get("request_id", ""), message.get("deadline_ms", time.time() * 1000 + 3000))
        try:
            result = handler(message["event"], context)
            reply({"id": message["id"], "ok": True, "result": result})
        except Exception as exc:  # a function error, reported like Lambda's Unhandled error
            traceback.print_exc()
            reply({"id": message["id"], "ok": False, "error": _error(exc)})
        sys.stdout.flush()
        sys.stderr.flush()

    if channel is not None:
        from .direct import Server

        Server(handler, serve_message, channel, direct).run(3)
        return
    requests = os.fdopen(3, "rb")  # buffered: an unbuffered readline() is one syscall per byte
    for line in iter(requests.readline, b""):
        serve_message(json.loads(line))


if __name__ == "__main__":
    main()
