"""S3 ObjectCreated batch prediction against a real S3 API (moto_server)."""
import json

import boto3
import pytest

from conftest import make_bundle
from mlserve_runtime.aws import make_handler
from mlserve_runtime.core import Runtime

ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5]]


@pytest.fixture
def s3(moto):
    return boto3.client("s3")


def _setup(tmp_path, s3, event, key, body, output_bucket="predictions-out"):
    published = event("aws/s3-put.json")
    bucket = published["Records"][0]["s3"]["bucket"]["name"]
    for b in (bucket, "predictions-out"):
        try:
            s3.create_bucket(Bucket=b)
        except s3.exceptions.BucketAlreadyOwnedByYou:
            pass
    s3.put_object(Bucket=bucket, Key=key, Body=body)
    bundle, info = make_bundle(tmp_path, "sklearn-classifier",
                               triggers={"s3": [{"bucket": bucket, "output": {"bucket": output_bucket or bucket, "prefix": "out/"}}]})
    return published, bucket, make_handler(Runtime(bundle)), info


@pytest.mark.parametrize("suffix,body", [
    (".csv", "\n".join(",".join(map(str, r)) for r in ROWS) + "\n"),
    (".csv", "sepal_length,sepal_width,petal_length,petal_width\n" + "\n".join(",".join(map(str, r)) for r in ROWS)),
    (".jsonl", "\n".join(json.dumps(r) for r in ROWS)),
    (".json", json.dumps({"instances": ROWS})),
])
def test_an_object_created_event_scores_the_object_and_writes_predictions(tmp_path, s3, event, suffix, body):
    key = "batches/day one/input" + suffix
    published, bucket, handler, info = _setup(tmp_path, s3, event, key, body)
    # S3 URL-encodes keys in events: a space arrives as "+".
    published["Records"][0]["s3"]["object"]["key"] = key.replace(" ", "+")
    result = handler(published)
    out_key = f"out/{key}.predictions.jsonl"
    assert result == {"written": [{"input": f"s3://{bucket}/{key}", "output": f"s3://predictions-out/{out_key}", "rows": 3}]}
    written = s3.get_object(Bucket="predictions-out", Key=out_key)["Body"].read().decode().splitlines()
    assert [json.loads(line) for line in written] == info["predictions"]


def test_the_published_event_without_configured_output_fails_clearly(tmp_path, s3, event):
    published = event("aws/s3-put.json")
    bundle, _ = make_bundle(tmp_path, "sklearn-classifier")
    with pytest.raises(ValueError, match="no output configured for objects from bucket lambda-artifacts-deafc19498e3f2df"):
        make_handler(Runtime(bundle))(published)


def test_its_own_output_never_triggers_another_run(tmp_path, s3, event):
    # Output written into the watched bucket: the event for it must not start another run.
    published, bucket, handler, _ = _setup(tmp_path, s3, event, "out/in.csv.predictions.jsonl", "[0]\n", output_bucket=None)
    published["Records"][0]["s3"]["object"]["key"] = "out/in.csv.predictions.jsonl"
    assert handler(published) == {"written": []}
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="out/out/")
