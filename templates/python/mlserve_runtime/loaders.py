"""Model loaders, one per framework. Framework imports happen here, once, when the model loads."""
from __future__ import annotations

import importlib.util
import os
import sys

from .errors import HttpError, bad_request, invalid_input
from .tensors import ONNX_TO_V2, V2_TO_NUMPY, array_to_tensor, tensor_to_array, to_list
from .validate import check_shape, numeric_array, rows


class Model:
    """What the protocols need of a model, whatever its framework."""

    platform = "unknown"

    def predict(self, instances, probabilities: bool = False):
        raise NotImplementedError

    def infer(self, inputs: list, requested: list | None):
        """Open Inference v2: the first input tensor is the batch; one output named "predict"."""
        if len(inputs) != 1:
            raise invalid_input("inputs", f"this model takes 1 input tensor, got {len(inputs)}")
        declared = self.metadata()["inputs"][0]
        _check_datatype(inputs[0].get("datatype"), declared["datatype"], "inputs[0].datatype")
        array = tensor_to_array(inputs[0])
        want_proba = bool(requested) and requested[0] == "predict_proba"
        out = self.predict(array, probabilities=want_proba)
        return [array_to_tensor("predict_proba" if want_proba else "predict", out)]

    def metadata(self) -> dict:
        return {"platform": self.platform, "inputs": [{"name": "input-0", "datatype": "FP64", "shape": [-1, -1]}],
                "outputs": [{"name": "predict", "datatype": "FP64", "shape": [-1]}]}


def _check_datatype(given, declared: str, field: str) -> None:
    """A v2 tensor's datatype must be castable to what the model declares: numbers to numbers."""
    if given in V2_TO_NUMPY and declared in V2_TO_NUMPY and (given == "BYTES") != (declared == "BYTES"):
        raise invalid_input(field, f"{given} cannot be given to an input the model declares as {declared}")


class SklearnModel(Model):
    platform = "sklearn"

    def __init__(self, path: str):
        import joblib  # also reads plain pickles

        self.model = joblib.load(path)
        self.n_features = getattr(self.model, "n_features_in_", None)
        self.feature_names = [str(n) for n in getattr(self.model, "feature_names_in_", [])] or None
        _skip_second_finite_check(self.model)

    def predict(self, instances, probabilities: bool = False):
        if isinstance(instances, list) and instances and isinstance(instances[0], dict):
            instances = self._from_records(instances)
        X = rows(instances, self.n_features)
        if probabilities:
            if not hasattr(self.model, "predict_proba"):
                raise bad_request(f"{type(self.model).__name__} has no predict_proba; ask without probabilities", "NO_PROBABILITIES")
            return to_list(self.model.predict_proba(X))
        return to_list(self.model.predict(X))

    def _from_records(self, records: list):
        if not self.feature_names:
            raise invalid_input("instances[0]", "rows given as objects need a model trained with feature names; send lists of numbers")
        for i, record in enumerate(records):
            missing = [n for n in self.feature_names if not isinstance(record, dict) or n not in record]
            if missing:
                raise invalid_input(f"instances[{i}]", f"is missing features {missing}; expected {self.feature_names}")
        return [[r.get(n) for n in self.feature_names] for r in records]

    def metadata(self) -> dict:
        kind = "predict_proba" if hasattr(self.model, "predict_proba") else None
        outputs = [{"name": "predict", "datatype": "FP64", "shape": [-1]}]
        if kind:
            outputs.append({"name": kind, "datatype": "FP64", "shape": [-1, len(getattr(self.model, "classes_", [])) or -1]})
        return {"platform": self.platform, "estimator": type(self.model).__name__,
                "inputs": [{"name": "input-0", "datatype": "FP64", "shape": [-1, self.n_features or -1]}],
                "outputs": outputs}


def _skip_second_finite_check(model) -> None:
    """rows() refuses every NaN and infinity before predict, so scikit-learn's own check of the same
    array (15-20 us a request for a linear model, a third of its predict) only repeats it. It is
    skipped (set_config(assume_finite=True), for the loading thread: Lambda and the local worker serve
    on it; Azure's worker threads keep the check) unless something
    inside the model transforms the rows first: a pipeline's step may make a value non-finite, and
    the next estimator's check is then what stops a silent wrong answer."""
    try:
        import sklearn

        parts = [model, *model.get_params(deep=True).values()]
    except (ImportError, AttributeError, TypeError):  # not a scikit-learn estimator (a pickled object of another library): nothing to skip
        return
    sklearn.set_config(assume_finite=not any(hasattr(part, "transform") for part in parts))


class OnnxModel(Model):
    platform = "onnxruntime"

    def __init__(self, path: str):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 3
        self.session = ort.InferenceSession(path, sess_options=options, providers=["CPUExecutionProvider"])
        self.inputs = self.session.get_inputs()
        self.outputs = self.session.get_outputs()

    def _cast(self, name: str, values, field: str):
        import numpy as np

        spec = next((i for i in self.inputs if i.name == name), None)
        if spec is None:
            raise invalid_input(field, f"unknown input {name!r}; the model's inputs are {[i.name for i in self.inputs]}")
        if spec.type == "tensor(string)":
            array = np.asarray(values, dtype=object)
        else:
            dtype = {"tensor(double)": "float64", "tensor(int64)": "int64", "tensor(int32)": "int32", "tensor(bool)": "bool"}.get(spec.type, "float32")
            array = numeric_array(values, field, dtype)
        shape = spec.shape
        if array.ndim == len(shape) - 1 and len(shape) == 2:
            array = array.reshape(1, -1)  # a single row
        check_shape(array, shape, field)
        return array

    def predict(self, instances, probabilities: bool = False):
        if len(self.inputs) != 1:
            raise invalid_input("instances", f"this model has {len(self.inputs)} inputs; use the v2 protocol with named inputs")
        feeds = {self.inputs[0].name: self._cast(self.inputs[0].name, instances, "instances")}
        results = self.session.run(None, feeds)
        if probabilities:
            if len(results) < 2:
                raise bad_request("this ONNX model has a single output: it returns no probabilities", "NO_PROBABILITIES")
            return to_list(_unzipmap(results[1]))
        return to_list(results[0])

    def infer(self, inputs: list, requested: list | None):
        feeds = {}
        declared = {i.name: ONNX_TO_V2.get(i.type, "BYTES") for i in self.inputs}
        for i, tensor in enumerate(inputs):
            field = f"inputs[{i}]"
            if tensor.get("name") in declared:
                _check_datatype(tensor.get("datatype"), declared[tensor["name"]], f"{field}.datatype")
            feeds[tensor.get("name")] = self._cast(tensor.get("name"), tensor_to_array(tensor, field), f"{field}.data")
        missing = [i.name for i in self.inputs if i.name not in feeds]
        if missing:
            raise invalid_input("inputs", f"missing inputs {missing}")
        names = [o.name for o in self.outputs]
        wanted = requested or names
        unknown = [n for n in wanted if n not in names]
        if unknown:
            raise invalid_input("outputs", f"unknown outputs {unknown}; the model's outputs are {names}")
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
        x = torch.as_tensor(numeric_array(instances, "instances", "float32"))
        with torch.inference_mode():
            try:
                out = self.model(x)
            except RuntimeError as e:
                # TorchScript raises RuntimeError for a wrong input shape; the message names the shapes.
                if "shape" in str(e) or "size" in str(e):
                    raise invalid_input("instances", f"shape {list(x.shape)} does not fit the model: {str(e).splitlines()[-1]}") from None
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
        x = numeric_array(instances, "instances", "float32")
        declared = getattr(self.model, "input_shape", None)
        if isinstance(declared, tuple) and all(d is None or isinstance(d, int) for d in declared):
            if x.ndim == len(declared) - 1:
                x = x.reshape((1, *x.shape))
            check_shape(x, [-1 if d is None else d for d in declared], "instances")
        return to_list(self.model.predict(x, verbose=0))


class HuggingFaceModel(Model):
    """A transformers folder (save_pretrained): text classification when its config names a
    *ForSequenceClassification architecture, else feature extraction (mean-pooled embeddings).
    Loaded from its own files only: nothing is fetched from the Hub."""

    platform = "huggingface"

    def __init__(self, model_dir: str):
        import json

        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch
        from transformers import AutoModel, AutoModelForSequenceClassification, AutoTokenizer

        with open(os.path.join(model_dir, "config.json"), encoding="utf-8") as f:
            architectures = json.load(f).get("architectures") or []
        self.classifier = any(a.endswith("ForSequenceClassification") for a in architectures)
        self.torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
        cls = AutoModelForSequenceClassification if self.classifier else AutoModel
        self.model = cls.from_pretrained(model_dir, local_files_only=True).eval()

    def predict(self, instances, probabilities: bool = False):
        if not isinstance(instances, list) or not instances or not all(isinstance(t, str) for t in instances):
            raise invalid_input("instances", "expected a non-empty list of strings (the texts)")
        batch = self.tokenizer(instances, padding=True, truncation=True, return_tensors="pt")
        with self.torch.inference_mode():
            out = self.model(**batch)
        if not self.classifier:
            mask = batch["attention_mask"].unsqueeze(-1).to(out.last_hidden_state.dtype)
            return to_list((out.last_hidden_state * mask).sum(dim=1) / mask.sum(dim=1))
        scores = self.torch.softmax(out.logits, dim=-1)
        if probabilities:
            return to_list(scores)
        labels = self.model.config.id2label
        best = scores.argmax(dim=-1).tolist()
        return [{"label": labels[i], "score": float(scores[row, i])} for row, i in enumerate(best)]


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
            raise invalid_input("instances", f"predict() rejected the input: {e}") from None
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
    if framework == "huggingface":
        # The folder as save_pretrained wrote it (init packages it as an image, which keeps it whole).
        return HuggingFaceModel(os.path.dirname(path))
    raise RuntimeError(f"unknown framework {framework!r}")


__all__ = ["Model", "load_model", "HttpError"]
