"""Build the small real models the tests use. Usage: make_models.py <kind> <out_dir>.

kinds: sklearn-classifier, sklearn-regressor, sklearn-pickle, onnx, torchscript, torch-eager, custom, keras, keras-tensorflow, hf-classifier, hf-embedder.
Prints a JSON line describing what was written (files, expected predictions for a few rows).
"""
import json
import os
import sys

import numpy as np

ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5]]


def iris():
    from sklearn.datasets import load_iris

    return load_iris(return_X_y=True)


def sklearn_classifier(out):
    import joblib
    from sklearn.linear_model import LogisticRegression

    X, y = iris()
    model = LogisticRegression(max_iter=500).fit(X, y)
    joblib.dump(model, os.path.join(out, "model.joblib"))
    return {"file": "model.joblib", "rows": ROWS, "predictions": model.predict(ROWS).tolist(),
            "probabilities": model.predict_proba(ROWS).tolist()}


def sklearn_regressor(out):
    import joblib
    from sklearn.linear_model import Ridge

    X, y = iris()
    model = Ridge().fit(X[:, :3], X[:, 3])
    joblib.dump(model, os.path.join(out, "model.joblib"))
    rows = [r[:3] for r in ROWS]
    return {"file": "model.joblib", "rows": rows, "predictions": model.predict(rows).tolist()}


def sklearn_pickle(out):
    import pickle

    from sklearn.tree import DecisionTreeClassifier

    X, y = iris()
    model = DecisionTreeClassifier(random_state=0).fit(X, y)
    with open(os.path.join(out, "model.pkl"), "wb") as f:
        pickle.dump(model, f, protocol=2)
    return {"file": "model.pkl", "rows": ROWS, "predictions": model.predict(ROWS).tolist()}


def onnx_model(out):
    """A linear classifier (MatMul + Add + ArgMax) built with onnx.helper: no converter needed."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    from sklearn.linear_model import LogisticRegression

    X, y = iris()
    lr = LogisticRegression(max_iter=500).fit(X, y)
    W = numpy_helper.from_array(lr.coef_.T.astype(np.float32), "W")
    B = numpy_helper.from_array(lr.intercept_.astype(np.float32), "B")
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["input", "W"], ["xw"]),
            helper.make_node("Add", ["xw", "B"], ["scores"]),
            helper.make_node("ArgMax", ["scores"], ["label"], axis=1, keepdims=0),
        ],
        "iris-linear",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 4])],
        [
            helper.make_tensor_value_info("label", TensorProto.INT64, ["N"]),
            helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", 3]),
        ],
        initializer=[W, B],
    )
    model = helper.make_model(graph, producer_name="mlserve-tests", opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(out, "model.onnx"))
    scores = np.asarray(ROWS, dtype=np.float32) @ lr.coef_.T.astype(np.float32) + lr.intercept_.astype(np.float32)
    return {"file": "model.onnx", "rows": ROWS, "predictions": scores.argmax(axis=1).tolist()}


class _Net:
    pass


def torchscript(out, eager=False):
    import torch

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3)).eval()
    path = os.path.join(out, "model.pt")
    if eager:
        torch.save(net, path)
    else:
        torch.jit.script(net).save(path)
    with torch.no_grad():
        preds = net(torch.tensor(ROWS, dtype=torch.float32)).tolist()
    return {"file": "model.pt", "rows": ROWS, "predictions": preds}


def keras_model(out, backend="torch", file="model.keras"):
    """A small Keras 3 model: on the torch backend (no TensorFlow needed) as model.keras by default;
    keras-tensorflow saves it with TensorFlow in the legacy HDF5 format, as model.h5."""
    os.environ["KERAS_BACKEND"] = backend
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(3)])
    model.save(os.path.join(out, file))
    preds = model.predict(np.asarray(ROWS, dtype="float32"), verbose=0).tolist()
    return {"file": file, "rows": ROWS, "predictions": preds}


def hf_model(out, classifier=True):
    """A tiny BERT built from a config (nothing from the Hub), saved by save_pretrained: a text
    classifier, or (classifier=False) a bare encoder whose mean-pooled states are the embeddings."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertModel, BertTokenizer

    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "good", "bad", "movie", "great", "awful", "the", "was"]
    with open(os.path.join(out, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(words) + "\n")
    tokenizer = BertTokenizer(vocab_file=os.path.join(out, "vocab.txt"))
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(words), hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
                        max_position_embeddings=32, num_labels=2, id2label={0: "negative", 1: "positive"}, label2id={"negative": 0, "positive": 1})
    model = (BertForSequenceClassification if classifier else BertModel)(config).eval()
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    texts = ["the movie was great", "awful movie", "bad"]
    batch = tokenizer(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        out_ = model(**batch)
    if not classifier:
        mask = batch["attention_mask"].unsqueeze(-1).float()
        embeddings = ((out_.last_hidden_state * mask).sum(dim=1) / mask.sum(dim=1)).tolist()
        return {"file": "config.json", "rows": texts, "predictions": embeddings}
    scores = torch.softmax(out_.logits, dim=-1)
    preds = [{"label": config.id2label[int(row.argmax())], "score": float(row.max())} for row in scores]
    return {"file": "config.json", "rows": texts, "predictions": preds, "probabilities": scores.tolist()}


CUSTOM = '''"""A custom model: doubles the sum of each row."""


def load(model_dir):
    return {"factor": 2.0}


def predict(model, inputs):
    return [model["factor"] * sum(row) for row in inputs]
'''


def custom(out):
    with open(os.path.join(out, "predict.py"), "w") as f:
        f.write(CUSTOM)
    return {"file": "predict.py", "rows": ROWS, "predictions": [2.0 * sum(r) for r in ROWS]}


KINDS = {
    "sklearn-classifier": sklearn_classifier,
    "sklearn-regressor": sklearn_regressor,
    "sklearn-pickle": sklearn_pickle,
    "onnx": onnx_model,
    "torchscript": torchscript,
    "torch-eager": lambda out: torchscript(out, eager=True),
    "custom": custom,
    "keras": keras_model,
    "hf-classifier": hf_model,
    "hf-embedder": lambda out: hf_model(out, classifier=False),
    "keras-tensorflow": lambda out: keras_model(out, "tensorflow", "model.h5"),
}

if __name__ == "__main__":
    kind, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    print(json.dumps(KINDS[kind](out)))
