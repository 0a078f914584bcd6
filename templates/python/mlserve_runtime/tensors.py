"""Open Inference Protocol v2 tensors <-> numpy arrays."""
from __future__ import annotations

from .errors import invalid_input
from .validate import numeric_array

# OIP v2 datatype -> numpy dtype name.
V2_TO_NUMPY = {
    "BOOL": "bool", "UINT8": "uint8", "UINT16": "uint16", "UINT32": "uint32", "UINT64": "uint64",
    "INT8": "int8", "INT16": "int16", "INT32": "int32", "INT64": "int64",
    "FP16": "float16", "FP32": "float32", "FP64": "float64", "BYTES": "object",
}
NUMPY_TO_V2 = {v: k for k, v in V2_TO_NUMPY.items()}
# ONNX Runtime's type strings -> OIP v2.
ONNX_TO_V2 = {
    "tensor(float)": "FP32", "tensor(double)": "FP64", "tensor(float16)": "FP16",
    "tensor(int64)": "INT64", "tensor(int32)": "INT32", "tensor(int16)": "INT16", "tensor(int8)": "INT8",
    "tensor(uint8)": "UINT8", "tensor(uint16)": "UINT16", "tensor(uint32)": "UINT32", "tensor(uint64)": "UINT64",
    "tensor(bool)": "BOOL", "tensor(string)": "BYTES",
}


def tensor_to_array(tensor: dict, field: str = "inputs[0]"):
    """A v2 request tensor {name, shape, datatype, data} as a numpy array of that shape and type."""
    import numpy as np

    for key in ("name", "shape", "datatype", "data"):
        if key not in tensor:
            raise invalid_input(f"{field}.{key}", "is missing (each input needs name, shape, datatype, data)")
    datatype = tensor["datatype"]
    if datatype not in V2_TO_NUMPY:
        raise invalid_input(f"{field}.datatype", f"unknown datatype {datatype!r}; use one of {', '.join(V2_TO_NUMPY)}")
    shape = tensor["shape"]
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        raise invalid_input(f"{field}.shape", f"must be a list of non-negative integers, got {shape!r}")
    if datatype == "BYTES":
        array = np.asarray(tensor["data"], dtype=object)
    else:
        array = numeric_array(tensor["data"], f"{field}.data", V2_TO_NUMPY[datatype])
    if array.size != int(np.prod(shape)):
        raise invalid_input(f"{field}.data", f"has {array.size} values; shape {shape} needs {int(np.prod(shape))}")
    return array.reshape(shape)


def array_to_tensor(name: str, value) -> dict:
    """A numpy array (or list) as a v2 response tensor with flat data."""
    import numpy as np

    array = np.asarray(value)
    dtype = "object" if array.dtype.kind in "OUS" else array.dtype.name
    datatype = NUMPY_TO_V2.get(dtype, "FP64")
    data = array.reshape(-1).tolist()
    if datatype == "BYTES":
        data = [d.decode() if isinstance(d, bytes) else str(d) for d in data]
    return {"name": name, "shape": list(array.shape), "datatype": datatype, "data": data}


def to_list(value):
    """Model output as plain JSON-able Python values."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [to_list(v) for v in value]
    if isinstance(value, dict):
        return {k: to_list(v) for k, v in value.items()}
    return value
