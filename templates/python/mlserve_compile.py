"""Bytecode for one share of a tree's Python files, run by mlserve when it packages.

Run as `python -I -S mlserve_compile.py <root> [--atomic]`, with the files (paths relative to <root>, one per
line) on stdin. Writes `__pycache__/<name>.<tag>.pyc` beside each as an unchecked-hash pyc (PEP 552):
its header holds a hash of the source, and the runtime never checks it, so it is deterministic under
a zip's fixed mtimes and never stale on a read-only code directory. The path compiled into the code
is the file's path relative to <root>, so the bytes do not depend on where the tree lives.

Why not `compileall -j 0`: marshal marks an object for back-reference when anything else holds it,
so a pyc's bytes depend on what the compiling process did before. In a pool, which worker compiles
which file depends on the core count and on timing; here each process compiles a fixed share, in a fixed order, from
a fixed start (-I -S: no site, no environment). The writes are plain, not atomic: mlserve compiles
into a directory that it renames into place only when everything is written. With --atomic (a tree
others may be reading), each pyc is written beside its place and renamed into it.

Prints the files that did not compile (Python 2 leftovers in some packages), one per line: those
modules are compiled at import, as they would have been. Exits 0 unless a file could not be read
or written.
"""
import importlib._bootstrap_external as bootstrap
import importlib.util
import os
import sys


def compile_one(root, rel, atomic):
    path = os.path.join(root, rel)
    with open(path, "rb") as f:
        source = f.read()
    try:
        code = compile(source, rel, "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        return False
    data = bootstrap._code_to_hash_pyc(code, importlib.util.source_hash(source), checked=False)
    target = importlib.util.cache_from_source(path)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    part = f"{target}.{os.getpid()}.part" if atomic else target
    with open(part, "wb") as f:
        f.write(data)
    if atomic:
        os.replace(part, target)
    return True


def main():
    root, atomic = sys.argv[1], "--atomic" in sys.argv[2:]
    for rel in sys.stdin.read().splitlines():
        if rel and not compile_one(root, rel, atomic):
            print(rel)


if __name__ == "__main__":
    main()
