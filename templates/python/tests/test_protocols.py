"""KServe v1, Open Inference v2, health, bad requests and the per-request log line."""
import json

import numpy as np
import pytest

from conftest import stdout_records
from mlserve_runtime.http import Request

ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5]]


def call(runtime, method, path, body=None, query=None):
    raw = body if isinstance(body, bytes) else (b"" if body is None else json.dumps(body).encode())
    response = runtime.handle_http(Request(method, path, {"content-type": "application/json"}, query or {}, raw))
    return response.status, response.body, response.headers


@pytest.mark.parametrize("path", ["/", "/predict", "/invocations", "/v1/models/iris:predict", "/api/v1/models/iris:predict"])
def test_kserve_v1_predict_on_every_route(runtime, sklearn_bundle, path):
    status, body, _ = call(runtime, "POST", path, {"instances": ROWS})
    assert status == 200 and body == {"predictions": sklearn_bundle[1]["predictions"]}


def test_tf_serving_inputs_and_probabilities(runtime, sklearn_bundle):
    info = sklearn_bundle[1]
    assert call(runtime, "POST", "/v1/models/iris:predict", {"inputs": ROWS})[1] == {"predictions": info["predictions"]}
    status, body, _ = call(runtime, "POST", "/v1/models/iris:predict", {"instances": ROWS, "parameters": {"probabilities": True}})
    assert status == 200
    np.testing.assert_allclose(body["predictions"], info["probabilities"])
    _, body, _ = call(runtime, "POST", "/v1/models/iris:predict", {"instances": ROWS}, {"probabilities": "true"})
    np.testing.assert_allclose(body["predictions"], info["probabilities"])


def test_open_inference_v2_infer(runtime, sklearn_bundle):
    request = {"id": "req-7", "inputs": [{"name": "input-0", "shape": [3, 4], "datatype": "FP64", "data": sum(ROWS, [])}]}
    status, body, _ = call(runtime, "POST", "/v2/models/iris/infer", request)
    assert status == 200
    assert body["model_name"] == "iris" and body["id"] == "req-7" and body["model_version"]
    assert body["outputs"] == [{"name": "predict", "shape": [3], "datatype": "INT64", "data": sklearn_bundle[1]["predictions"]}]
    request["outputs"] = [{"name": "predict_proba"}]
    _, body, _ = call(runtime, "POST", "/v2/models/iris/versions/1/infer", request)
    assert body["outputs"][0]["name"] == "predict_proba" and body["outputs"][0]["shape"] == [3, 3]


def test_v2_health_and_metadata(runtime):
    assert call(runtime, "GET", "/v2/health/live")[:2] == (200, {"live": True})
    assert call(runtime, "GET", "/v2/health/ready")[:2] == (200, {"ready": True})
    assert call(runtime, "GET", "/v2/models/iris/ready")[1] == {"name": "iris", "ready": True}
    status, meta, _ = call(runtime, "GET", "/v2/models/iris")
    assert status == 200
    assert meta["platform"] == "sklearn" and meta["inputs"] == [{"name": "input-0", "datatype": "FP64", "shape": [-1, 4]}]
    assert [o["name"] for o in meta["outputs"]] == ["predict", "predict_proba"]


@pytest.mark.parametrize("method,path,body,status,code", [
    ("POST", "/v1/models/iris:predict", b"{not json", 400, "INVALID_INPUT"),
    ("POST", "/v1/models/iris:predict", b"", 400, "INVALID_INPUT"),
    ("POST", "/v1/models/iris:predict", {"rows": ROWS}, 400, "INVALID_INPUT"),
    ("POST", "/v1/models/iris:predict", {"instances": [[1.0, 2.0, 3.0]]}, 400, "INVALID_INPUT"),
    ("POST", "/v1/models/iris:predict", {"instances": [["a", "b", "c", "d"]]}, 400, "INVALID_INPUT"),
    ("POST", "/v2/models/iris/infer", {"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP64"}]}, 400, "INVALID_INPUT"),
    ("POST", "/v2/models/iris/infer", {"inputs": [{"name": "x", "shape": [2, 4], "datatype": "FP64", "data": [1, 2]}]}, 400, "INVALID_INPUT"),
    ("POST", "/v1/models/other:predict", {"instances": ROWS}, 404, "MODEL_NOT_FOUND"),
    ("POST", "/nowhere", {"instances": ROWS}, 404, "NOT_FOUND"),
    ("GET", "/v1/models/iris:predict", None, 405, "METHOD_NOT_ALLOWED"),
    ("DELETE", "/v2/models/iris/infer", None, 405, "METHOD_NOT_ALLOWED"),
])
def test_bad_requests_get_their_status_and_a_json_error_and_the_next_request_succeeds(runtime, sklearn_bundle, method, path, body, status, code):
    got_status, got_body, headers = call(runtime, method, path, body)
    assert (got_status, got_body["error"]["code"]) == (status, code)
    assert "Traceback" not in json.dumps(got_body)
    if status == 405:
        assert headers["allow"]
    assert call(runtime, "POST", "/v1/models/iris:predict", {"instances": ROWS})[1] == {"predictions": sklearn_bundle[1]["predictions"]}


def test_wrong_feature_count_names_expected_and_received(runtime):
    _, body, _ = call(runtime, "POST", "/", {"instances": [[1.0, 2.0, 3.0]]})
    assert body["error"] == {"code": "INVALID_INPUT", "field": "instances[0]", "message": "instances[0]: has 3 features; the model takes 4"}


# Inputs the model cannot take: 400 INVALID_INPUT naming the field, checked before predict, on every route.
@pytest.mark.parametrize("path,raw,field,problem", [
    ("/", b'{"instances": [[5.1, NaN, 1.4, 0.2]]}', "body", "NaN is not a JSON value"),
    ("/", b'{"instances": [[5.1, 3.5, Infinity, 0.2]]}', "body", "Infinity is not a JSON value"),
    ("/", b'{"instances": [[5.1, 3.5, 1.4, -Infinity]]}', "body", "-Infinity is not a JSON value"),
    ("/", b"{'instances': [[5.1, 3.5, 1.4, 0.2]]}", "body", "is not valid JSON"),
    ("/", b'{"instances": [[5.1, 3.5, 1.4, 0.2], [1e999, 3.0, 5.2, 2.3]]}', "instances[1][0]", "inf is not a finite number"),
    ("/", b'{"instances": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2]]}', "instances[1]", "has 3 values; every row needs 4"),
    ("/", b'{"instances": [[5.1, 3.5, 1.4, 0.2], [6.7, "x", 5.2, 2.3]]}', "instances[1][1]", '"x" is not a number'),
    ("/", b'{"instances": [[5.1, 3.5, 1.4, 0.2, 9.9]]}', "instances[0]", "has 5 features; the model takes 4"),
    ("/v2/models/iris/infer", b'{"inputs": [{"name": "input-0", "shape": [1, 3], "datatype": "FP64", "data": [1, 2, 3]}]}',
     "instances[0]", "has 3 features; the model takes 4"),
    ("/v2/models/iris/infer", b'{"inputs": [{"name": "input-0", "shape": [1, 4], "datatype": "BYTES", "data": ["a", "b", "c", "d"]}]}',
     "inputs[0].datatype", "BYTES cannot be given to an input the model declares as FP64"),
    ("/v2/models/iris/infer", b'{"inputs": [{"name": "input-0", "shape": [1, 4], "datatype": "FP64", "data": [1, 2, 1e400, 4]}]}',
     "inputs[0].data[2]", "inf is not a finite number"),
])
def test_inputs_the_model_cannot_take_are_400_invalid_input_naming_the_field(runtime, sklearn_bundle, path, raw, field, problem):
    status, body, _ = call(runtime, "POST", path, raw)
    assert status == 400, body
    assert body["error"]["code"] == "INVALID_INPUT" and body["error"]["field"] == field
    assert problem in body["error"]["message"]
    assert call(runtime, "POST", "/", {"instances": ROWS})[1] == {"predictions": sklearn_bundle[1]["predictions"]}


def test_a_fault_in_the_model_itself_is_still_a_500(runtime, monkeypatch):
    monkeypatch.setattr(runtime.model.model, "predict", lambda X: 1 / 0)
    status, body, _ = call(runtime, "POST", "/", {"instances": ROWS})
    assert status == 500 and body["error"]["code"] == "MODEL_ERROR"


def test_a_body_over_6_mb_is_refused_with_413(runtime):
    big = b'{"instances": [' + b"[1.0, 2.0, 3.0, 4.0]," * 350_000 + b"[1,2,3,4]]}"
    assert len(big) > 6 * 1024 * 1024
    status, body, _ = call(runtime, "POST", "/", big)
    assert status == 413 and body["error"]["code"] == "PAYLOAD_TOO_LARGE"


def test_a_model_exception_is_a_500_with_the_request_id_and_the_traceback_only_in_the_log(runtime, sklearn_bundle, capsys, monkeypatch):
    def boom(*_args, **_kwargs):
        raise ZeroDivisionError("inside the model")

    monkeypatch.setattr(runtime.model.model, "predict", boom)
    capsys.readouterr()
    status, body, headers = call(runtime, "POST", "/", {"instances": ROWS})
    assert status == 500 and body["error"]["code"] == "MODEL_ERROR"
    assert body["error"]["request_id"] == headers["x-request-id"]
    assert "ZeroDivisionError" not in json.dumps(body)
    logs = stdout_records(capsys)
    error_log = next(r for r in logs if r["event"] == "model_error")
    assert "ZeroDivisionError: inside the model" in error_log["traceback"]
    assert error_log["request_id"] == body["error"]["request_id"]
    monkeypatch.undo()
    assert call(runtime, "POST", "/", {"instances": ROWS})[1] == {"predictions": sklearn_bundle[1]["predictions"]}


def test_one_structured_emf_log_line_per_request(sklearn_bundle, capsys):
    from mlserve_runtime.core import Runtime

    fresh = Runtime(sklearn_bundle[0])
    capsys.readouterr()
    status, _, headers = call(fresh, "POST", "/v1/models/iris:predict", {"instances": ROWS})
    call(fresh, "GET", "/v2/health/ready")
    records = [r for r in stdout_records(capsys) if r["event"] == "request"]
    assert len(records) == 2
    first, second = records
    assert first["cold_start"] is True and second["cold_start"] is False
    assert "x-mlserve-init-ms" in headers
    assert first["status"] == 200 and first["batch_size"] == 3 and first["route"] == "predict_v1"
    assert first["latency_ms"] >= 0 and first["request_id"] == headers["x-request-id"]
    assert first["model"] == {"name": "iris", "version": fresh.version, "sha256": "0" * 64}
    metrics = first["_aws"]["CloudWatchMetrics"][0]
    assert metrics["Namespace"] == "mlserve" and {m["Name"] for m in metrics["Metrics"]} == {"Latency", "Errors", "ColdStart"}
    assert first["Latency"] == first["latency_ms"] and first["ColdStart"] == 1 and second["ColdStart"] == 0
