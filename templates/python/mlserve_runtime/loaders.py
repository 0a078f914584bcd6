"""Model loaders, one per framework. Framework imports happen here, once, when the model loads."""
from __future__ import annotations

import importlib.util
import os
import sys

from .errors import HttpError, bad_request
from .tensors import ONNX_TO_V2, array_to_tensor, tensor_to_array, to_list


class Model:
    """What the protocols need of a model, whatever its framework."""

    platform = "unknown"

    def predict(self, instances, probabilities: bool = False):
        raise NotImplementedError

    def infer(self, inputs: list, requested: list | None):
        """Open Inference v2: the first input tensor is the batch; one output named "predict"."""
        if len(inputs) != 1:
            raise bad_request(f"this model takes 1 input tensor, got {len(inputs)}")
        array = tensor_to_array(inputs[0])
        want_proba = bool(requested) and requested[0] == "predict_proba"
        out = self.predict(array, probabilities=want_proba)
        return [array_to_tensor("predict_proba" if want_proba else "predict", out)]

    def metadata(self) -> dict:
        return {"platform": self.platform, "inputs": [{"name": "input-0", "datatype": "FP64", "shape": [-1, -1]}],
                "outputs": [{"name": "predict", "datatype": "FP64", "shape": [-1]}]}


def _rows(instances, n_features: int | None):
    """Instances as a 2-D float array, checking the feature count when the model declares one."""
    import numpy as np

    try:
        X = np.asarray(instances, dtype=float)
    except (ValueError, TypeError):
        raise bad_request("instances must be a list of rows of numbers, e.g. [[5.1, 3.5, 1.4, 0.2]]", "BAD_INPUT") from None
    if X.ndim == 1 and n_features is not None and X.shape[0] == n_features:
        X = X.reshape(1, -1)
    if X.ndim != 2:
        raise bad_request(f"expected a list of rows (2 dimensions), got an array of shape {list(X.shape)}", "BAD_SHAPE")
    if n_features is not None and X.shape[1] != n_features:
        raise bad_request(f"expected {n_features} features per row, received {X.shape[1]}", "BAD_SHAPE")
    return X


class SklearnModel(Model):
    platform = "sklearn"

    def __init__(self, path: str):
        import joblib  # also reads plain pickles

        self.model = joblib.load(path)
        self.n_features = getattr(self.model, "n_features_in_", None)
        self.feature_names = [str(n) for n in getattr(self.model, "feature_names_in_", [])] or None

    def predict(self, instances, probabilities: bool = False):
        if isinstance(instances, list) and instances and isinstance(instances[0], dict):
            instances = self._from_records(instances)
        X = _rows(instances, self.n_features)
        if probabilities:
            if not hasattr(self.model, "predict_proba"):
                raise bad_request(f"{type(self.model).__name__} has no predict_proba; ask without probabilities", "NO_PROBABILITIES")
            return to_list(self.model.predict_proba(X))
        return to_list(self.model.predict(X))

    def _from_records(self, records: list):
        if not self.feature_names:
            raise bad_request("rows given as objects need a model trained with feature names; send lists of numbers", "BAD_INPUT")
        missing = [n for n in self.feature_names if n not in records[0]]
        if missing:
            raise bad_request(f"rows are missing features {missing}; expected {self.feature_names}", "BAD_SHAPE")
        return [[r.get(n) for n in self.feature_names] for r in records]

    def metadata(self) -> dict:
        kind = "predict_proba" if hasattr(self.model, "predict_proba") else None
        outputs = [{"name": "predict", "datatype": "FP64", "shape": [-1]}]
        if kind:
            outputs.append({"name": kind, "datatype": "FP64", "shape": [-1, len(getattr(self.model, "classes_", [])) or -1]})
        return {"platform": self.platform, "estimator": type(self.model).__name__,
                "inputs": [{"name": "input-0", "datatype": "FP64", "shape": [-1, self.n_features or -1]}],
                "outputs": outputs}


class OnnxModel(Model):
    platform = "onnxruntime"

    def __init__(self, path: str):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 3
        self.session = ort.InferenceSession(path, sess_options=options, providers=["CPUExecutionProvider"])
        self.inputs = self.session.get_inputs()
        self.outputs = self.session.get_outputs()

    def _cast(self, name: str, array):
        import numpy as np

        spec = next((i for i in self.inputs if i.name == name), None)
        if spec is None:
            raise bad_request(f"unknown input {name!r}; the model's inputs are {[i.name for i in self.inputs]}", "BAD_INPUT")
        dtype = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(int64)": np.int64,
                 "tensor(int32)": np.int32, "tensor(bool)": np.bool_, "tensor(string)": object}.get(spec.type, np.float32)
        try:
            array = np.asarray(array, dtype=dtype)
        except (ValueError, TypeError):
            raise bad_request(f"input {name!r} must be {spec.type}", "BAD_INPUT") from None
        shape = spec.shape
        if array.ndim == len(shape) - 1 and len(shape) == 2:
            array = array.reshape(1, -1)  # a single row
        if array.ndim != len(shape):
            raise bad_request(f"input {name!r} expects {len(shape)} dimensions {shape}, received shape {list(array.shape)}", "BAD_SHAPE")
        for axis, (want, got) in enumerate(zip(shape, array.shape)):
            if isinstance(want, int) and want != got:
                raise bad_request(f"input {name!r} expects {want} values on axis {axis} (shape {shape}), received {got}", "BAD_SHAPE")
        return array

    def predict(self, instances, probabilities: bool = False):
        if len(self.inputs) != 1:
            raise bad_request(f"this model has {len(self.inputs)} inputs; use the v2 protocol with named inputs", "BAD_INPUT")
        feeds = {self.inputs[0].name: self._cast(self.inputs[0].name, instances)}
        results = self.session.run(None, feeds)
        if probabilities:
            if len(results) < 2:
                raise bad_request("this ONNX model has a single output: it returns no probabilities", "NO_PROBABILITIES")
            return to_list(_unzipmap(results[1]))
        return to_list(results[0])

    def infer(self, inputs: list, requested: list | None):
        feeds = {}
        for tensor in inputs:
            feeds[tensor.get("name")] = self._cast(tensor.get("name"), tensor_to_array(tensor))
        missing = [i.name for i in self.inputs if i.name not in feeds]
        if missing:
            raise bad_request(f"missing inputs {missing}", "BAD_INPUT")
        names = [o.name for o in self.outputs]
        wanted = requested or names
        unknown = [n for n in wanted if n not in names]
        if unknown:
            raise bad_request(f"unknown outputs {unknown}; the model's outputs are {names}", "BAD_INPUT")
        results = self.session.run(wanted, feeds)
        return [array_to_tensor(n, _unzipmap(r)) for n, r in zip(wanted, results)]

    def metadata(self) -> dict:
        def spec(t):
            return {"name": t.name, "datatype": ONNX_TO_V2.get(t.type, "BYTES"),
                    "shape": [d if isinstance(d, int) else -1 for d in (t.shape or [])]}

        return {"platform": self.platform, "inputs": [spec(i) for i in self.inputs], "outputs": [spec(o) for o in self.outputs]}


def _unzipmap(value):
    """skl2onnx classifiers return probabilities as a list of {label: p} maps: make them rows."""
    if isinstance(value, list) and value and isinstance(value[0], dict):
        keys = sorted(value[0])
        return [[row[k] for k in keys] for row in value]
    return value


class TorchScriptModel(Model):
    platform = "pytorch_torchscript"

    def __init__(self, path: str):
        import torch

        torch.set_grad_enabled(False)
        self.torch = torch
        self.model = torch.jit.load(path, map_location="cpu").eval()

    def predict(self, instances, probabilities: bool = False):
        torch = self.torch
        try:
            x = torch.as_tensor(instances, dtype=torch.float32)
        except (ValueError, TypeError, RuntimeError):
            raise bad_request("instances must be a (nested) list of numbers", "BAD_INPUT") from None
        with torch.inference_mode():
            try:
                out = self.model(x)
            except RuntimeError as e:
                # TorchScript raises RuntimeError for a wrong input shape; the message names the shapes.
                if "shape" in str(e) or "size" in str(e):
                    raise bad_request(f"input shape {list(x.shape)} does not fit the model: {str(e).splitlines()[-1]}", "BAD_SHAPE") from None
                raise
        if isinstance(out, (tuple, list)):
            out = out[0]
        if probabilities:
            out = torch.softmax(out, dim=-1)
        return to_list(out)


class KerasModel(Model):
    platform = "keras"

    def __init__(self, path: str):
        # Keras 3 picks its backend at import: use the configured one, else whichever is installed.
        if not os.environ.get("KERAS_BACKEND"):
            for backend, module in (("tensorflow", "tensorflow"), ("jax", "jax"), ("torch", "torch")):
                if importlib.util.find_spec(module):
                    os.environ["KERAS_BACKEND"] = backend
                    break
        import keras

        self.model = keras.saving.load_model(path, compile=False)

    def predict(self, instances, probabilities: bool = False):
        import numpy as np

        return to_list(self.model.predict(np.asarray(instances, dtype="float32"), verbose=0))


class CustomModel(Model):
    platform = "custom"

    def __init__(self, model_dir: str, module_file: str):
        # Let predict.py import its own sibling modules.
        if model_dir not in sys.path:
            sys.path.insert(0, model_dir)
        spec = importlib.util.spec_from_file_location("mlserve_user_predict", os.path.join(model_dir, module_file))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        for fn in ("load", "predict"):
            if not callable(getattr(module, fn, None)):
                raise RuntimeError(f"{module_file} must define {fn}()")
        self.module = module
        self.model = module.load(model_dir)

    def predict(self, instances, probabilities: bool = False):
        m = self.module
        if hasattr(m, "preprocess"):
            instances = m.preprocess(instances)
        try:
            out = m.predict(self.model, instances)
        except (ValueError, TypeError) as e:
            # By convention a custom predict raises ValueError/TypeError for inputs it cannot take.
            raise bad_request(f"predict() rejected the input: {e}", "BAD_INPUT") from None
        if hasattr(m, "postprocess"):
            out = m.postprocess(out)
        return to_list(out)


def load_model(framework: str, model_dir: str, model_file: str | None, predict_module: str | None, resolve=None):
    """Load the model. `resolve(relative_path)` maps a model file to where it really is (offloaded)."""
    resolve = resolve or (lambda rel: os.path.join(model_dir, rel))
    if framework == "custom":
        return CustomModel(model_dir, predict_module or "predict.py")
    if not model_file:
        raise RuntimeError(f"framework {framework} needs model.file in the config")
    path = resolve(model_file)
    if framework == "sklearn":
        return SklearnModel(path)
    if framework == "onnx":
        return OnnxModel(path)
    if framework == "torchscript":
        return TorchScriptModel(path)
    if framework == "keras":
        return KerasModel(path)
    raise RuntimeError(f"unknown framework {framework!r}")


__all__ = ["Model", "load_model", "HttpError"]
