"""mlserve_compile.py: the bytecode mlserve ships for the target (run as mlserve runs it, -I -S)."""
import importlib.util
import marshal
import os
import subprocess
import sys

import pytest

COMPILER = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "mlserve_compile.py")


def run(root, files, *args):
    return subprocess.run(
        [sys.executable, "-I", "-S", "-B", COMPILER, str(root), *args],
        input="\n".join(files), capture_output=True, text=True, check=False,
    )


@pytest.fixture
def tree(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("VALUE = {'a', 'b'}\n")
    (tmp_path / "pkg" / "legacy.py").write_text("print 'python 2'\n")
    return tmp_path


def test_writes_unchecked_hash_pycs_named_by_the_relative_path_and_lists_what_did_not_compile(tree):
    result = run(tree, ["pkg/__init__.py", "pkg/legacy.py"])
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["pkg/legacy.py"]
    pyc = tree / "pkg" / "__pycache__" / f"__init__.{sys.implementation.cache_tag}.pyc"
    data = pyc.read_bytes()
    assert data[:4] == importlib.util.MAGIC_NUMBER
    assert int.from_bytes(data[4:8], "little") == 0b01  # PEP 552: hash-based, unchecked
    assert data[8:16] == importlib.util.source_hash((tree / "pkg" / "__init__.py").read_bytes())
    assert marshal.loads(data[16:]).co_filename == "pkg/__init__.py"
    assert not (tree / "pkg" / "__pycache__" / f"legacy.{sys.implementation.cache_tag}.pyc").exists()


def test_atomic_writes_the_same_bytes_and_leaves_no_part_files(tree):
    assert run(tree, ["pkg/__init__.py"]).returncode == 0
    cache = tree / "pkg" / "__pycache__"
    plain = {p.name: p.read_bytes() for p in cache.iterdir()}
    for p in cache.iterdir():
        p.unlink()
    assert run(tree, ["pkg/__init__.py"], "--atomic").returncode == 0
    assert {p.name: p.read_bytes() for p in cache.iterdir()} == plain


def test_a_file_it_cannot_read_fails_the_run(tree):
    result = run(tree, ["pkg/missing.py"])
    assert result.returncode == 1
    assert "missing.py" in result.stderr
