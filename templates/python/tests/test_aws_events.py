"""Every published AWS event payload gets the right answer from the Lambda handler."""
import base64
import json

import pytest

from conftest import http_body

ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5]]
PREDICT = "/v1/models/iris:predict"

HTTP_FIXTURES = [
    "aws/apigw-v1-proxy.json", "aws/apigw-v1-proxy-get-null-body.json", "aws/http-api-v2.json",
    "aws/http-api-v2-jwt-with-body.json", "aws/http-api-v2-isbase64-no-body.json", "aws/function-url.json",
    "aws/function-url-iam-post.json", "aws/alb.json", "aws/alb-multi-value-headers.json", "aws/alb-base64-body.json",
]


def with_prediction_request(event: dict, body: dict) -> dict:
    """The published event, carrying a predict request: POST, the predict path, a JSON body (base64
    when the event says so). Everything else stays as published."""
    raw = json.dumps(body)
    if event.get("version") == "2.0":
        http = event["requestContext"]["http"]
        stage = event["requestContext"].get("stage")
        prefix = f"/{stage}" if stage and stage != "$default" else ""
        event["rawPath"] = http["path"] = prefix + PREDICT
        http["method"] = "POST"
    else:
        event["path"] = PREDICT
        event["httpMethod"] = "POST"
    event["body"] = base64.b64encode(raw.encode()).decode() if event.get("isBase64Encoded") else raw
    return event


@pytest.mark.parametrize("name", HTTP_FIXTURES)
def test_every_http_shape_returns_the_models_predictions(name, event, handler, sklearn_bundle):
    info = sklearn_bundle[1]
    response = handler(with_prediction_request(event(name), {"instances": ROWS}))
    assert response["statusCode"] == 200
    assert http_body(response) == {"predictions": info["predictions"]}
    assert response["isBase64Encoded"] is False


@pytest.mark.parametrize("name", ["aws/apigw-v1-proxy.json", "aws/alb-multi-value-headers.json"])
def test_multi_value_requests_get_multi_value_headers(name, event, handler):
    response = handler(with_prediction_request(event(name), {"instances": ROWS}))
    assert response["multiValueHeaders"]["content-type"] == ["application/json"]
    if "alb" in name:
        assert "headers" not in response  # ALB with multi-value on reads only multiValueHeaders
        assert response["statusDescription"] == "200 OK"


def test_single_value_alb_gets_headers_and_a_status_description(event, handler):
    response = handler(with_prediction_request(event("aws/alb.json"), {"instances": ROWS}))
    assert response["headers"]["content-type"] == "application/json"
    assert "multiValueHeaders" not in response
    assert response["statusDescription"] == "200 OK"


def test_v2_responses_have_the_payload_2_0_shape(event, handler):
    response = handler(with_prediction_request(event("aws/function-url-iam-post.json"), {"instances": ROWS}))
    assert set(response) == {"statusCode", "headers", "body", "isBase64Encoded"}


@pytest.mark.parametrize("name", ["aws/function-url.json", "aws/apigw-v1-proxy-get-null-body.json"])
def test_a_bodiless_get_of_the_root_answers_the_server_info(name, event, handler):
    response = handler(event(name))
    assert response["statusCode"] == 200
    body = http_body(response)
    assert body["ready"] is True and body["name"] == "iris" and body["framework"] == "sklearn"


@pytest.mark.parametrize("name,method,path", [
    ("aws/alb.json", "GET", "/lambda"),
    ("aws/alb-multi-value-headers.json", "GET", "/todos"),
    ("aws/alb-base64-body.json", "PUT", "/api/binary"),
    ("aws/apigw-v1-proxy.json", "POST", "/hello/world"),
    ("aws/http-api-v2.json", "POST", "/lambda"),
    ("aws/http-api-v2-jwt-with-body.json", "GET", "/my/path"),
    ("aws/http-api-v2-isbase64-no-body.json", "GET", "/nodejs-apig-function-1G3XMPLZXVXYI"),
    ("aws/function-url-iam-post.json", "POST", "/my/path"),
])
def test_published_requests_to_other_paths_get_a_json_404_naming_the_routes(name, method, path, event, handler):
    response = handler(event(name))
    assert response["statusCode"] == 404
    error = http_body(response)["error"]
    assert error["code"] == "NOT_FOUND"
    assert f"{method} {path}" in error["message"] and "/v2/models/<name>/infer" in error["message"]


def test_the_stage_prefix_of_an_http_api_is_stripped(event, handler):
    e = event("aws/http-api-v2-isbase64-no-body.json")
    e["rawPath"] = "/default/v2/health/ready"
    assert http_body(handler(e)) == {"ready": True}


def test_direct_invocation_with_a_plain_payload(handler, sklearn_bundle):
    assert handler({"instances": ROWS}) == {"predictions": sklearn_bundle[1]["predictions"]}
    bad = handler({"instances": [[1, 2]]})
    assert bad["statusCode"] == 400 and bad["error"]["code"] == "INVALID_INPUT"


def test_an_unknown_event_names_the_supported_shapes(handler):
    from mlserve_runtime.errors import UnsupportedEvent

    with pytest.raises(UnsupportedEvent, match="API Gateway REST.*SQS.*EventBridge schedule"):
        handler({"hello": "world"})
    with pytest.raises(UnsupportedEvent):
        handler(["not", "an", "object"])


@pytest.mark.parametrize("name", ["aws/scheduled.json", "aws/scheduled-console-template.json"])
def test_a_schedule_warms_up(name, event, handler, capsys):
    result = handler(event(name))
    assert result["warm"] is True and result["init_ms"] > 0
    assert any('"event": "warmup"' in line for line in capsys.readouterr().out.splitlines())


def test_sqs_reports_each_failed_record_and_predicts_the_rest(event, handler, capsys, sklearn_bundle):
    published = event("aws/sqs.json")
    # As published: "Test message." and {"message": "foo1"} are no prediction requests: both fail.
    result = handler(published)
    ids = [r["messageId"] for r in published["Records"]]
    assert result == {"batchItemFailures": [{"itemIdentifier": i} for i in ids]}
    capsys.readouterr()
    good = event("aws/sqs.json")
    good["Records"][0]["body"] = json.dumps({"instances": ROWS[:1]})
    good["Records"][1]["body"] = json.dumps(ROWS[1:])
    assert handler(good) == {"batchItemFailures": []}
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"sqs_prediction"' in line]
    assert [r["predictions"] for r in logged] == [sklearn_bundle[1]["predictions"][:1], sklearn_bundle[1]["predictions"][1:]]


@pytest.mark.parametrize("name", ["aws/sns.json", "aws/sns-with-binary-attribute.json"])
def test_sns_messages_are_scored_and_bad_ones_reported(name, event, handler):
    published = event(name)
    result = handler(published)
    assert result["processed"] == 0 and result["failed"] == [published["Records"][0]["Sns"]["MessageId"]]
    published["Records"][0]["Sns"]["Message"] = json.dumps({"instances": ROWS})
    assert handler(published) == {"processed": 1, "failed": []}
