"""Azure Functions entry (Python v2 programming model): one HTTP trigger for every route.

host.json sets routePrefix to "" so /v2/models/<name>/infer is served as it is. Function keys are
required unless the config sets endpoint.public: true.
"""
import os

import azure.functions as func

from mlserve_runtime.azure import handle
from mlserve_runtime.core import Runtime

RUNTIME = Runtime(os.path.dirname(os.path.abspath(__file__)))
_AUTH = func.AuthLevel.ANONYMOUS if RUNTIME.settings.get("endpoint", {}).get("public") else func.AuthLevel.FUNCTION

app = func.FunctionApp(http_auth_level=_AUTH)


@app.route(route="{*path}", methods=["GET", "POST"])
def serve(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(**handle(RUNTIME, req))
