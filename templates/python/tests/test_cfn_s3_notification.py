"""The custom resource `mlserve export` inlines into CloudFormation for S3 triggers, against moto_server.

CloudFormation calls it with Create / Update / Delete and waits for `cfnresponse.send`; `cfnresponse`
is the module CloudFormation provides to inline functions, recorded here instead.
"""
import importlib.util
import pathlib
import sys
import types

import boto3
import pytest

SOURCE = pathlib.Path(__file__).resolve().parents[2] / "cloudformation" / "s3_notification.py"
ALIAS = "arn:aws:lambda:us-east-1:123456789012:function:iris-dev:dev"
THEIRS = "arn:aws:lambda:us-east-1:123456789012:function:someone-else"


@pytest.fixture
def resource(moto, monkeypatch):
    sent = []
    fake = types.SimpleNamespace(SUCCESS="SUCCESS", FAILED="FAILED")
    fake.send = lambda event, context, status, data, physical, reason=None: sent.append((status, physical, reason))
    monkeypatch.setitem(sys.modules, "cfnresponse", fake)
    spec = importlib.util.spec_from_file_location("s3_notification", SOURCE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module, sent


def _props(bucket, **extra):
    return {"Bucket": bucket, "Id": "mlserve-iris-dev-0", "LambdaFunctionArn": ALIAS, "Events": ["s3:ObjectCreated:*"],
            "FilterRules": [{"Name": "prefix", "Value": "batches/"}, {"Name": "suffix", "Value": ".csv"}], **extra}


def _rules(s3, bucket):
    return {r["Id"]: r for r in s3.get_bucket_notification_configuration(Bucket=bucket).get("LambdaFunctionConfigurations", [])}


def test_create_update_delete_touch_only_its_own_notification(resource):
    module, sent = resource
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="incoming-data")
    theirs = {"Id": "theirs", "LambdaFunctionArn": THEIRS, "Events": ["s3:ObjectRemoved:*"]}
    s3.put_bucket_notification_configuration(Bucket="incoming-data", NotificationConfiguration={"LambdaFunctionConfigurations": [theirs]})

    module.handler({"RequestType": "Create", "ResourceProperties": _props("incoming-data")}, None)
    assert sent[-1] == ("SUCCESS", "incoming-data/mlserve-iris-dev-0", None)
    rules = _rules(s3, "incoming-data")
    assert set(rules) == {"theirs", "mlserve-iris-dev-0"}
    ours = rules["mlserve-iris-dev-0"]
    assert ours["LambdaFunctionArn"] == ALIAS and ours["Events"] == ["s3:ObjectCreated:*"]
    assert sorted((r["Name"].lower(), r["Value"]) for r in ours["Filter"]["Key"]["FilterRules"]) == [("prefix", "batches/"), ("suffix", ".csv")]

    # An update replaces its rule in place: still one of ours, the other left alone.
    update = _props("incoming-data", FilterRules=[{"Name": "prefix", "Value": "daily/"}])
    module.handler({"RequestType": "Update", "PhysicalResourceId": sent[-1][1], "ResourceProperties": update}, None)
    rules = _rules(s3, "incoming-data")
    assert set(rules) == {"theirs", "mlserve-iris-dev-0"}
    assert [(r["Name"].lower(), r["Value"]) for r in rules["mlserve-iris-dev-0"]["Filter"]["Key"]["FilterRules"]] == [("prefix", "daily/")]

    module.handler({"RequestType": "Delete", "PhysicalResourceId": sent[-1][1], "ResourceProperties": update}, None)
    assert sent[-1][0] == "SUCCESS"
    assert set(_rules(s3, "incoming-data")) == {"theirs"}


def test_a_missing_bucket_fails_a_create_with_the_reason_and_lets_a_delete_succeed(resource):
    module, sent = resource
    module.handler({"RequestType": "Create", "ResourceProperties": _props("no-such-bucket")}, None)
    status, physical, reason = sent[-1]
    assert status == "FAILED" and physical == "failed" and "NoSuchBucket" in reason
    # CloudFormation then deletes what it thinks it created: nothing to undo.
    module.handler({"RequestType": "Delete", "PhysicalResourceId": "failed", "ResourceProperties": _props("no-such-bucket")}, None)
    assert sent[-1][0] == "SUCCESS"
    module.handler({"RequestType": "Delete", "PhysicalResourceId": "no-such-bucket/mlserve-iris-dev-0", "ResourceProperties": _props("no-such-bucket")}, None)
    assert sent[-1] == ("SUCCESS", "no-such-bucket/mlserve-iris-dev-0", None)
