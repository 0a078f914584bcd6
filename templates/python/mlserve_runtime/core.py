"""The runtime core: loads the model once per process and answers requests in any shape."""
from __future__ import annotations

import os
import time
import traceback

from . import HANDLER_VERSION
from .artifacts import fetch_all, verify_local
from .context import new_request_id
from .errors import HttpError, invalid_input
from .http import Request, Response, error_response, json_body, route
from .loaders import load_model
from .observability import emit, log, request_record
from .settings import load_settings, point_caches_at_tmp
from .stack import with_room


class Runtime:
    """One per process. Construction is the cold start: caches, artifacts, model load (timed)."""

    def __init__(self, bundle_dir: str, settings: dict | None = None, local_artifacts: dict | None = None):
        started = time.perf_counter()
        point_caches_at_tmp()
        self.bundle_dir = bundle_dir
        self.settings = settings or load_settings(bundle_dir)
        model = self.settings["model"]
        self.name = self.settings["name"]
        self.framework = model["framework"]
        self.model_sha256 = model.get("sha256", "")
        self.model_dir = os.path.join(bundle_dir, model.get("dir", "model"))
        artifacts = self.settings.get("artifacts", [])
        # The pre-flight runs before anything is uploaded: offloaded files come from the model directory.
        local = verify_local(artifacts, local_artifacts) if local_artifacts is not None else fetch_all(artifacts, log)
        # The load imports the framework, dozens of modules deep: with room on the frame stack (stack.py).
        self.model = with_room(load_model, self.framework, self.model_dir, model.get("file"), model.get("predict"),
                               resolve=lambda rel: local.get(rel) or os.path.join(self.model_dir, rel))
        self.init_ms = round((time.perf_counter() - started) * 1000, 1)
        # The version this process serves: Lambda's, or the local worker's, fixed for the process's life.
        self.version = (os.environ.get("AWS_LAMBDA_FUNCTION_VERSION") or os.environ.get("MLSERVE_VERSION")
                        or self.model_sha256[:12] or "1")
        self._model_fields = {"name": self.name, "version": self.version, "sha256": self.model_sha256}
        self._cold = True
        log("init", model=self.name, framework=self.framework, version=self.version, sha256=self.model_sha256,
            init_ms=self.init_ms, handler_version=HANDLER_VERSION)

    def take_cold(self) -> bool:
        """True for the first request this process serves."""
        cold, self._cold = self._cold, False
        return cold

    # -- HTTP ------------------------------------------------------------------------------------

    def handle_http(self, request: Request) -> Response:
        started = time.perf_counter()
        cold = self.take_cold()
        request.request_id = request.request_id or new_request_id()
        batch = 0
        handler = "unrouted"
        try:
            handler, params = route(request.method, request.path)
            if "name" in params and params["name"] != self.name:
                raise HttpError(404, "MODEL_NOT_FOUND", f"model {params['name']!r} is not served here; this endpoint serves {self.name!r}")
            response, batch = getattr(self, f"_{handler}")(request)
        except HttpError as e:
            response = error_response(e)
        except Exception:  # the model failed: the caller gets the request id, the log gets the traceback
            log("model_error", request_id=request.request_id, route=handler, traceback=traceback.format_exc())
            response = Response(500, {"error": {"code": "MODEL_ERROR", "request_id": request.request_id,
                                                "message": f"the model failed on this request; see the logs for request id {request.request_id}"}})
        latency = round((time.perf_counter() - started) * 1000, 2)
        response.headers.setdefault("x-request-id", request.request_id)
        if cold:
            response.headers["x-mlserve-init-ms"] = str(self.init_ms)
        emit(request_record(self.name, {
            "request_id": request.request_id, "route": handler, "method": request.method, "status": response.status,
            "latency_ms": latency, "cold_start": cold, "batch_size": batch,
            "model": self._model_fields,
        }))
        return response

    def _info(self, _request):
        return Response(200, {"name": self.name, "framework": self.framework, "version": self.version, "ready": True,
                              "sha256": self.model_sha256,
                              "routes": [f"POST /v1/models/{self.name}:predict", f"POST /v2/models/{self.name}/infer",
                                         "GET /v2/health/ready", f"GET /v2/models/{self.name}"]}), 0

    def _ready(self, _request):
        return Response(200, {"ready": True}), 0

    def _live(self, _request):
        return Response(200, {"live": True}), 0

    def _server_v2(self, _request):
        return Response(200, {"name": "mlserve", "version": HANDLER_VERSION, "extensions": []}), 0

    def _model_status_v1(self, _request):
        return Response(200, {"name": self.name, "ready": True}), 0

    def _model_ready_v2(self, _request):
        return Response(200, {"name": self.name, "ready": True}), 0

    def _metadata_v2(self, _request):
        meta = self.model.metadata()
        return Response(200, {"name": self.name, "versions": [self.version], "platform": meta["platform"],
                              "inputs": meta["inputs"], "outputs": meta["outputs"]}), 0

    def _predict_v1(self, request: Request):
        body = json_body(request)
        wants_proba = str(request.query.get("probabilities", "")).lower() in ("1", "true", "yes")
        result = self.predict_v1(body, wants_proba)
        return Response(200, result), len(body["instances"] if "instances" in body else body["inputs"])

    def _infer_v2(self, request: Request):
        body = json_body(request)
        result = self.infer_v2(body)
        batch = result.pop("_batch", 0)
        return Response(200, result), batch

    # -- protocol bodies, also used by direct invocation and batch events -------------------------

    def predict_v1(self, body, wants_proba: bool = False) -> dict:
        if not isinstance(body, dict) or not ("instances" in body or "inputs" in body):
            raise invalid_input("body", 'expected {"instances": [...]} (or {"inputs": [...]}), e.g. {"instances": [[5.1, 3.5, 1.4, 0.2]]}')
        instances = body["instances"] if "instances" in body else body["inputs"]
        if not isinstance(instances, list) or not instances:
            raise invalid_input("instances" if "instances" in body else "inputs", "must be a non-empty list of rows")
        params = body.get("parameters") or {}
        wants_proba = wants_proba or bool(isinstance(params, dict) and params.get("probabilities"))
        return {"predictions": self.model.predict(instances, probabilities=wants_proba)}

    def infer_v2(self, body) -> dict:
        if not isinstance(body, dict) or not isinstance(body.get("inputs"), list) or not body["inputs"]:
            raise invalid_input("inputs", 'expected {"inputs": [{"name", "shape", "datatype", "data"}]}')
        for i, t in enumerate(body["inputs"]):
            if not isinstance(t, dict):
                raise invalid_input(f"inputs[{i}]", "must be an object {name, shape, datatype, data}")
        requested = [o.get("name") for o in body.get("outputs") or [] if isinstance(o, dict)] or None
        outputs = self.model.infer(body["inputs"], requested)
        shape = body["inputs"][0].get("shape") or [0]
        result = {"model_name": self.name, "model_version": self.version, "id": str(body.get("id") or new_request_id()),
                  "outputs": outputs, "_batch": shape[0] if shape else 0}
        return result

    def warm_up(self, source: str) -> dict:
        cold = self.take_cold()
        log("warmup", source=source, cold_start=cold, init_ms=self.init_ms, model=self.name)
        return {"warm": True, "cold_start": cold, "init_ms": self.init_ms}
