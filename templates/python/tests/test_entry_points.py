"""The Lambda entry module as Lambda loads it: a fresh process, cwd = the bundle, read-only HOME."""
import json
import os
import subprocess
import sys

from conftest import make_bundle

ROWS = [[5.1, 3.5, 1.4, 0.2]]


def test_mlserve_handler_answers_in_a_fresh_process_and_keeps_caches_in_tmp(tmp_path):
    bundle, info = make_bundle(tmp_path, "sklearn-classifier")
    readonly_home = tmp_path / "home"
    readonly_home.mkdir()
    readonly_home.chmod(0o500)
    tmp = tmp_path / "lambda-tmp"
    tmp.mkdir()
    script = ("import json, os, mlserve_handler\n"
              f"print('RESULT ' + json.dumps({{'out': mlserve_handler.handler({{'instances': {json.dumps(ROWS)}}}),"
              " 'home': os.environ['HOME'], 'torch': os.environ['TORCH_HOME']}))")
    env = {**os.environ, "HOME": str(readonly_home), "MLSERVE_TMP": str(tmp), "PYTHONPATH": bundle,
           "AWS_LAMBDA_FUNCTION_VERSION": "7"}
    env.pop("TORCH_HOME", None)
    if os.geteuid() == 0:
        env["HOME"] = "/proc/nonexistent-home"  # root can write anywhere; use a path that cannot exist
    proc = subprocess.run([sys.executable, "-c", script], cwd=bundle, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    result = json.loads(next(line for line in lines if line.startswith("RESULT "))[7:])
    assert result["out"] == {"predictions": info["predictions"][:1]}
    assert result["home"].startswith(str(tmp)) and result["torch"].startswith(str(tmp))
    init = json.loads(next(line for line in lines if '"event": "init"' in line))
    assert init["version"] == "7" and init["init_ms"] > 0
