"""Fixtures: real models (built by test/python/make_models.py), bundles laid out as `mlserve package`
lays them out, the published AWS/Azure event payloads from ../shared/fixtures, and a moto_server."""
import copy
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATES = os.path.dirname(HERE)
REPO = os.path.dirname(os.path.dirname(TEMPLATES))
FIXTURES = os.path.join(os.path.dirname(REPO), "shared", "fixtures", "events")

sys.path.insert(0, TEMPLATES)
sys.path.insert(0, os.path.join(REPO, "test", "python"))

import make_models  # noqa: E402


def load_event(name: str) -> dict:
    path = os.path.join(FIXTURES, name)
    if not os.path.exists(path):
        pytest.fail(f"{path} is missing: the tests replay the published payloads in ../shared/fixtures")
    with open(path) as f:
        return json.load(f)


@pytest.fixture
def event():
    return lambda name: copy.deepcopy(load_event(name))


def make_bundle(tmp_path, kind: str, name: str = "iris", **settings) -> tuple:
    """A bundle directory: runtime + entry point + model/ + mlserve.json. Returns (dir, model info)."""
    bundle = tmp_path / f"bundle-{kind}"
    model_dir = bundle / "model"
    model_dir.mkdir(parents=True)
    info = make_models.KINDS[kind](str(model_dir))
    shutil.copytree(os.path.join(TEMPLATES, "mlserve_runtime"), bundle / "mlserve_runtime",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(os.path.join(TEMPLATES, "mlserve_handler.py"), bundle)
    framework = {"sklearn-classifier": "sklearn", "sklearn-regressor": "sklearn", "sklearn-pickle": "sklearn",
                 "onnx": "onnx", "torchscript": "torchscript", "custom": "custom", "keras": "keras",
                 "hf-classifier": "huggingface", "hf-embedder": "huggingface"}[kind]
    model = {"framework": framework, "dir": "model", "sha256": "0" * 64}
    if framework == "custom":
        model["predict"] = "predict.py"
    else:
        model["file"] = info["file"]
    config = {"name": name, "model": model, "triggers": {"s3": []}, "artifacts": []}
    config.update(settings)
    (bundle / "mlserve.json").write_text(json.dumps(config))
    return str(bundle), info


@pytest.fixture(autouse=True)
def isolated_tmp(tmp_path, monkeypatch):
    """Each test gets its own writable temp root, as each Lambda sandbox / local worker does."""
    monkeypatch.setenv("MLSERVE_TMP", str(tmp_path / "tmp"))
    os.makedirs(tmp_path / "tmp", exist_ok=True)


@pytest.fixture(scope="session")
def sklearn_bundle(tmp_path_factory):
    return make_bundle(tmp_path_factory.mktemp("sk"), "sklearn-classifier")


@pytest.fixture(scope="session")
def runtime(sklearn_bundle, tmp_path_factory):
    from mlserve_runtime.core import Runtime

    os.environ["MLSERVE_TMP"] = str(tmp_path_factory.mktemp("rt-tmp"))
    return Runtime(sklearn_bundle[0])


@pytest.fixture(scope="session")
def handler(runtime):
    from mlserve_runtime.aws import make_handler

    return make_handler(runtime)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def moto(tmp_path_factory):
    """A real S3 API: moto_server on a free 127.0.0.1 port, stopped by PID at the end."""
    exe = os.environ.get("MOTO_SERVER") or shutil.which("moto_server")
    if not exe:
        pytest.fail("moto_server is not on PATH (it ships with this machine image; set MOTO_SERVER to its path)")
    port = _free_port()
    log = open(tmp_path_factory.mktemp("moto") / "moto.log", "w")
    proc = subprocess.Popen([exe, "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(url + "/moto-api/", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail("moto_server did not start")
    env = {"AWS_ENDPOINT_URL": url, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    yield url
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    proc.terminate()
    proc.wait(timeout=10)
    log.close()


def http_body(response: dict) -> dict:
    return json.loads(response["body"])


def stdout_records(capsys) -> list:
    """The JSON log lines the runtime printed since the last call."""
    out = capsys.readouterr().out
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def pytest_configure(config):
    # torch.jit is what TorchScript files need; its deprecation notice is not ours to fix.
    config.addinivalue_line("filterwarnings", "ignore:`torch.jit:DeprecationWarning")
