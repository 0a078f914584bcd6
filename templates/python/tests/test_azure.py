"""Azure: the custom-handler envelope the Functions host POSTs, and the Python v2 model adapter."""
import json

import pytest

from mlserve_runtime import azure

ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]


def test_the_published_custom_handler_request_to_another_route_gets_a_json_404(event, handler):
    result = handler(event("azure/custom-handler-http-request.json"))
    res = result["Outputs"]["res"]
    assert res["statusCode"] == 404 and json.loads(res["body"])["error"]["message"].startswith("no route POST /order")


def test_the_custom_handler_request_carrying_instances_gets_predictions(event, handler, sklearn_bundle):
    published = event("azure/custom-handler-http-request.json")
    published["Data"]["req"]["Url"] = "http://localhost:7071/api/v1/models/iris:predict"
    published["Data"]["req"]["Body"] = json.dumps({"instances": ROWS})
    result = handler(published)
    res = result["Outputs"]["res"]
    assert res["statusCode"] == 200
    assert json.loads(res["body"]) == {"predictions": sklearn_bundle[1]["predictions"][:2]}
    assert res["headers"]["content-type"] == "application/json"


class HttpRequestShape:
    """The attributes of azure.functions.HttpRequest that the adapter reads (the package is not on
    the local wheel index, so function_app.py itself runs only on Azure)."""

    def __init__(self, method, url, body=b"", headers=None, params=None):
        self.method, self.url, self._body = method, url, body
        self.headers, self.params = headers or {}, params or {}

    def get_body(self):
        return self._body


def test_the_v2_programming_model_adapter(runtime, sklearn_bundle):
    req = HttpRequestShape("POST", "https://iris.azurewebsites.net/v2/models/iris/infer",
                           json.dumps({"inputs": [{"name": "x", "shape": [2, 4], "datatype": "FP32", "data": sum(ROWS, [])}]}).encode(),
                           {"Content-Type": "application/json", "x-ms-request-id": "abc"})
    kwargs = azure.handle(runtime, req)
    assert kwargs["status_code"] == 200 and kwargs["mimetype"] == "application/json"
    assert json.loads(kwargs["body"])["outputs"][0]["data"] == sklearn_bundle[1]["predictions"][:2]
    assert kwargs["headers"]["x-request-id"] == "abc"
    bad = azure.handle(runtime, HttpRequestShape("POST", "https://x/v1/models/iris:predict", b"{oops"))
    assert bad["status_code"] == 400


NAN_BODY = b'{"instances": [[5.1, NaN, 1.4, 0.2]]}'


def test_invalid_input_is_the_same_400_on_every_entry(event, handler, runtime):
    """Lambda (Function URL event, direct payload), the Azure custom handler and the v2 adapter."""
    url_event = event("aws/function-url.json")
    url_event.update(body=NAN_BODY.decode(), isBase64Encoded=False, rawPath="/")
    url_event["requestContext"]["http"].update(method="POST", path="/")
    lambda_answer = handler(url_event)
    assert lambda_answer["statusCode"] == 400
    lambda_error = json.loads(lambda_answer["body"])["error"]

    direct = handler({"instances": [[5.1, float("nan"), 1.4, 0.2]]})
    assert direct["statusCode"] == 400 and direct["error"]["code"] == "INVALID_INPUT"

    envelope = event("azure/custom-handler-http-request.json")
    envelope["Data"]["req"].update(Url="http://localhost:7071/", Body=NAN_BODY.decode())
    custom = handler(envelope)["Outputs"]["res"]
    assert custom["statusCode"] == 400 and json.loads(custom["body"])["error"] == lambda_error

    adapter = azure.handle(runtime, HttpRequestShape("POST", "https://iris.azurewebsites.net/", NAN_BODY))
    assert adapter["status_code"] == 400 and json.loads(adapter["body"])["error"] == lambda_error
    assert lambda_error["code"] == "INVALID_INPUT" and lambda_error["field"] == "body"


V2_BODY = json.dumps({"inputs": [{"name": "x", "shape": [2, 4], "datatype": "FP32", "data": sum(ROWS, [])}]})
V1_BODY = json.dumps({"instances": ROWS})
EVERY_ROUTE = [
    ("GET", "/", ""), ("POST", "/", V1_BODY), ("POST", "/predict", V1_BODY), ("POST", "/invocations", V1_BODY),
    ("GET", "/ping", ""), ("GET", "/v1/models/iris", ""), ("POST", "/v1/models/iris:predict", V1_BODY),
    ("GET", "/v2/health/live", ""), ("GET", "/v2/health/ready", ""), ("GET", "/v2", ""),
    ("GET", "/v2/models/iris", ""), ("GET", "/v2/models/iris/ready", ""), ("POST", "/v2/models/iris/infer", V2_BODY),
    ("POST", "/v2/models/iris/versions/1/infer", V2_BODY), ("GET", "/nowhere", ""), ("DELETE", "/v2/models/iris/infer", ""),
]


@pytest.mark.parametrize(("method", "path", "body"), EVERY_ROUTE)
def test_the_azure_entry_answers_every_route_the_lambda_entry_answers_alike(event, handler, runtime, sklearn_bundle,
                                                                           method, path, body):
    """The published Function URL event through Lambda's entry, and the same request through the Azure
    adapter as function_app.py calls it and as the local provider runs it: same status, same body."""
    url_event = event("aws/function-url.json")
    url_event.update(body=body, isBase64Encoded=False, rawPath=path, rawQueryString="")
    url_event["requestContext"]["http"].update(method=method, path=path)
    lambda_answer = handler(url_event)

    adapter = azure.handle(runtime, HttpRequestShape(method, f"https://iris.azurewebsites.net{path}", body.encode(),
                                                     {"Content-Type": "application/json"}))
    local = azure.local_handler(runtime.bundle_dir)(url_event, None)

    def comparable(text):  # per-request ids differ by design
        body = json.loads(text)
        return {k: v for k, v in body.items() if k not in ("request_id", "id")}

    expected = comparable(lambda_answer["body"])
    for status, text in ((adapter["status_code"], adapter["body"]), (local["statusCode"], local["body"])):
        assert (status, comparable(text)) == (lambda_answer["statusCode"], expected)
    predicted = expected.get("predictions") or (expected.get("outputs") or [{}])[0].get("data")
    if method == "POST" and lambda_answer["statusCode"] == 200:
        assert predicted == sklearn_bundle[1]["predictions"][:2]
