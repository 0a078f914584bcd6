"""Build the example ONNX model: a linear iris classifier (MatMul + Add + ArgMax) written with
onnx.helper from a scikit-learn fit, so no converter package is needed."""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

X, y = load_iris(return_X_y=True)
lr = LogisticRegression(max_iter=500).fit(X, y)
graph = helper.make_graph(
    [
        helper.make_node("MatMul", ["input", "W"], ["xw"]),
        helper.make_node("Add", ["xw", "B"], ["scores"]),
        helper.make_node("ArgMax", ["scores"], ["label"], axis=1, keepdims=0),
    ],
    "iris-linear",
    [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 4])],
    [helper.make_tensor_value_info("label", TensorProto.INT64, ["N"]),
     helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", 3])],
    initializer=[numpy_helper.from_array(lr.coef_.T.astype(np.float32), "W"),
                 numpy_helper.from_array(lr.intercept_.astype(np.float32), "B")],
)
model = helper.make_model(graph, producer_name="mlserve-example", opset_imports=[helper.make_opsetid("", 13)])
model.ir_version = 8
onnx.checker.check_model(model)
onnx.save(model, os.path.join(os.path.dirname(os.path.abspath(__file__)), "model.onnx"))
print("wrote model.onnx")
