"""Each framework's loader, on a real model, answers exactly what the model itself predicts."""
import json

import numpy as np
import pytest

from conftest import make_bundle
from mlserve_runtime.core import Runtime
from mlserve_runtime.http import Request


def predict(runtime, body, path="/"):
    response = runtime.handle_http(Request("POST", path, {}, {}, json.dumps(body).encode()))
    return response.status, response.body


def assert_invalid_instances(runtime, instances):
    """Input the model cannot take is the caller's fault: 400 INVALID_INPUT naming the field."""
    status, body = predict(runtime, {"instances": instances})
    assert status == 400 and body["error"]["code"] == "INVALID_INPUT" and body["error"]["field"] == "instances"


@pytest.mark.parametrize("kind", ["sklearn-regressor", "sklearn-pickle", "onnx", "custom"])
def test_predictions_equal_the_models_own(tmp_path, kind):
    bundle, info = make_bundle(tmp_path, kind)
    status, body = predict(Runtime(bundle), {"instances": info["rows"]})
    assert status == 200
    np.testing.assert_allclose(body["predictions"], info["predictions"])


def test_torchscript_predictions_equal_the_models_own_and_shape_errors_are_400(tmp_path):
    bundle, info = make_bundle(tmp_path, "torchscript")
    runtime = Runtime(bundle)
    status, body = predict(runtime, {"instances": info["rows"]})
    assert status == 200
    np.testing.assert_allclose(body["predictions"], info["predictions"], rtol=1e-5)
    assert_invalid_instances(runtime, [[1.0, 2.0]])


def test_hugging_face_text_classifier_answers_labels_and_scores_like_the_model_and_refuses_non_text(tmp_path):
    bundle, info = make_bundle(tmp_path, "hf-classifier")
    runtime = Runtime(bundle)
    status, body = predict(runtime, {"instances": info["rows"]})
    assert status == 200
    assert [p["label"] for p in body["predictions"]] == [p["label"] for p in info["predictions"]]
    np.testing.assert_allclose([p["score"] for p in body["predictions"]], [p["score"] for p in info["predictions"]], rtol=1e-5)
    status, body = predict(runtime, {"instances": info["rows"], "parameters": {"probabilities": True}})
    assert status == 200
    np.testing.assert_allclose(body["predictions"], info["probabilities"], rtol=1e-5)
    assert_invalid_instances(runtime, [[1.0, 2.0]])


def test_hugging_face_encoder_answers_its_mean_pooled_embeddings(tmp_path):
    bundle, info = make_bundle(tmp_path, "hf-embedder")
    status, body = predict(Runtime(bundle), {"instances": info["rows"]})
    assert status == 200
    assert len(body["predictions"]) == 3 and len(body["predictions"][0]) == 16
    np.testing.assert_allclose(body["predictions"], info["predictions"], rtol=1e-5, atol=1e-6)


def test_keras_predictions_equal_the_models_own(tmp_path, monkeypatch):
    monkeypatch.delenv("KERAS_BACKEND", raising=False)  # the loader picks the installed backend (torch here)
    bundle, info = make_bundle(tmp_path, "keras")
    status, body = predict(Runtime(bundle), {"instances": info["rows"]})
    assert status == 200
    np.testing.assert_allclose(body["predictions"], info["predictions"], rtol=1e-5)


def test_onnx_reads_input_names_shapes_and_types_from_the_session(tmp_path):
    bundle, info = make_bundle(tmp_path, "onnx")
    runtime = Runtime(bundle)
    meta = runtime.handle_http(Request("GET", "/v2/models/iris", {}, {}, b"")).body
    assert meta["platform"] == "onnxruntime"
    assert meta["inputs"] == [{"name": "input", "datatype": "FP32", "shape": [-1, 4]}]
    assert [o["name"] for o in meta["outputs"]] == ["label", "scores"]
    # v2 with named input (FP64 data is cast to the session's float32) and a chosen output.
    request = {"inputs": [{"name": "input", "shape": [3, 4], "datatype": "FP64", "data": sum(info["rows"], [])}],
               "outputs": [{"name": "label"}]}
    status, body = predict(runtime, request, "/v2/models/iris/infer")
    assert status == 200
    assert body["outputs"] == [{"name": "label", "shape": [3], "datatype": "INT64", "data": info["predictions"]}]
    status, body = predict(runtime, {"instances": [[1.0, 2.0, 3.0]]})
    assert status == 400 and "expects 4 values on axis 1" in body["error"]["message"]
    status, body = predict(runtime, {"inputs": [{"name": "nope", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}]},
                           "/v2/models/iris/infer")
    assert status == 400 and "unknown input 'nope'" in body["error"]["message"]


def test_custom_predict_with_pre_and_post_processing(tmp_path):
    bundle, info = make_bundle(tmp_path, "custom")
    with open(f"{bundle}/model/predict.py", "a") as f:
        f.write("\n\ndef preprocess(inputs):\n    return [[v * 10 for v in row] for row in inputs]\n"
                "\n\ndef postprocess(outputs):\n    return {'scores': outputs}\n")
    status, body = predict(Runtime(bundle), {"instances": info["rows"]})
    assert status == 200
    assert body["predictions"]["scores"] == pytest.approx([p * 10 for p in info["predictions"]])


def test_the_model_loads_once_per_process_at_init(tmp_path):
    bundle, info = make_bundle(tmp_path, "custom")
    with open(f"{bundle}/model/predict.py", "a") as f:
        f.write("\nLOADS = []\n_original_load = load\n\n\ndef load(model_dir):\n    LOADS.append(model_dir)\n    return _original_load(model_dir)\n")
    runtime = Runtime(bundle)
    for _ in range(3):
        predict(runtime, {"instances": info["rows"]})
    assert runtime.model.module.LOADS == [f"{bundle}/model"]
    assert runtime.init_ms > 0


def test_a_pipeline_step_that_makes_a_value_non_finite_fails_loudly_even_after_a_plain_model_loaded(tmp_path):
    """The request's own NaN and infinity are refused before predict (400), so a plain estimator does
    not check them a second time; a pipeline keeps scikit-learn's check, since a step can make one
    (the log of 0): the model fails (500), it never answers with a wrong prediction."""
    import joblib
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    bundle, info = make_bundle(tmp_path / "plain", "sklearn-classifier")
    plain = Runtime(bundle)
    assert predict(plain, {"instances": info["rows"]}) == (200, {"predictions": info["predictions"]})

    piped, _ = make_bundle(tmp_path / "pipeline", "sklearn-classifier")
    X = np.asarray(info["rows"] * 4)
    joblib.dump(make_pipeline(FunctionTransformer(np.log), LogisticRegression()).fit(X, [0, 1, 2] * 4), f"{piped}/model/{info['file']}")
    pipeline = Runtime(piped)
    assert predict(pipeline, {"instances": info["rows"]})[0] == 200
    with np.errstate(divide="ignore"):
        status, body = predict(pipeline, {"instances": [[5.1, 0.0, 1.4, 0.2]]})
    assert (status, body["error"]["code"]) == (500, "MODEL_ERROR")
