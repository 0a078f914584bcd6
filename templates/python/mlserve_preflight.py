"""Pre-flight of a packaged bundle, run by mlserve before any upload.

Run as `python -I -S mlserve_preflight.py <bundle_dir> <request.json|-> <artifacts.json>` so that only
the bundle and the standard library are importable: no site-packages, no user site, no PYTHON* env.
Loads the model the way the cold start does and sends it one request: the sample file when given,
else one built from the model's declared input signature. Prints one JSON line and exits 0 when the
bundle answered, 1 when it could not import, load or answer.
"""
import json
import sys
import time
import traceback


def derive_request(runtime):
    """A v2 request of zeros shaped like the model's declared inputs, or None when a size is unknown."""
    tensors = []
    for spec in runtime.model.metadata().get("inputs") or []:
        shape = list(spec.get("shape") or [])
        if not shape or any(not isinstance(d, int) or d < 0 for d in shape[1:]):
            return None
        shape[0] = 1
        count = 1
        for d in shape:
            count *= d
        datatype = spec.get("datatype", "FP32")
        zero = "" if datatype == "BYTES" else False if datatype == "BOOL" else 0
        tensors.append({"name": spec["name"], "shape": shape, "datatype": datatype, "data": [zero] * count})
    return {"inputs": tensors} if tensors else None


def main() -> int:
    bundle, request_file, artifacts = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    sys.path.insert(0, bundle)
    started = time.perf_counter()
    try:
        from mlserve_runtime.core import Runtime
        from mlserve_runtime.http import Request

        runtime = Runtime(bundle, local_artifacts=artifacts)
    except BaseException:
        print(json.dumps({"ok": False, "stage": "load", "traceback": traceback.format_exc()}))
        return 1
    load_ms = round((time.perf_counter() - started) * 1000)
    sample = "sample file"
    if request_file == "-":
        body, sample = derive_request(runtime), "the model's input signature"
    else:
        with open(request_file, encoding="utf-8") as f:
            body = json.load(f)
    if body is None:
        print(json.dumps({"ok": True, "load_ms": load_ms, "request": None}))
        return 0
    is_v2 = isinstance(body.get("inputs"), list) and body["inputs"] and isinstance(body["inputs"][0], dict)
    path = f"/v2/models/{runtime.name}/infer" if is_v2 else "/"
    response = runtime.handle_http(Request("POST", path, {"content-type": "application/json"}, {}, json.dumps(body).encode()))
    ok = response.status < 400
    print(json.dumps({"ok": ok, "stage": "request", "load_ms": load_ms, "request": sample, "path": path,
                      "status": response.status, "body": response.body}, default=str))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
