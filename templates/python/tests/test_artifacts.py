"""Offloaded artifacts: fetched from S3 at cold start, SHA-256 verified before anything loads them."""
import hashlib
import os
import pickle

import boto3
import pytest

from conftest import make_bundle, stdout_records
from mlserve_runtime.core import Runtime
from mlserve_runtime.errors import ArtifactIntegrityError


class _Exploit:
    """Unpickling this would create a file: proof that a tampered artifact was loaded."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _offload(tmp_path, bucket="mlserve-artifacts"):
    """A bundle whose model.joblib lives in S3 under its content address, pinned in mlserve.json."""
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=bucket)
    bundle, info = make_bundle(tmp_path, "sklearn-classifier")
    path = os.path.join(bundle, "model", "model.joblib")
    data = open(path, "rb").read()
    sha = hashlib.sha256(data).hexdigest()
    key = f"iris/artifacts/{sha}"
    s3.put_object(Bucket=bucket, Key=key, Body=data)
    os.remove(path)  # it is not in the bundle any more
    artifact = {"path": "model.joblib", "sha256": sha, "bytes": len(data), "location": {"kind": "s3", "bucket": bucket, "key": key}}
    return bundle, info, artifact, s3


def _settings(bundle, artifacts):
    import json

    settings = json.load(open(os.path.join(bundle, "mlserve.json")))
    settings["artifacts"] = artifacts
    return settings


def test_an_intact_artifact_is_fetched_verified_loaded_and_reused(moto, tmp_path, capsys):
    bundle, info, artifact, s3 = _offload(tmp_path, "intact-artifacts")
    runtime = Runtime(bundle, _settings(bundle, [artifact]))
    assert runtime.model.predict(info["rows"]) == info["predictions"]
    logs = stdout_records(capsys)
    assert [r["event"] for r in logs if r["event"].startswith("artifact")] == ["artifact_fetched"]
    # A second process in the same sandbox reuses the verified copy, even with S3 gone.
    s3.delete_object(Bucket="intact-artifacts", Key=artifact["location"]["key"])
    again = Runtime(bundle, _settings(bundle, [artifact]))
    assert again.model.predict(info["rows"]) == info["predictions"]
    assert [r["event"] for r in stdout_records(capsys) if r["event"].startswith("artifact")] == ["artifact_reused"]


def test_a_tampered_artifact_is_refused_before_it_is_loaded(moto, tmp_path):
    bundle, _, artifact, s3 = _offload(tmp_path, "tampered-artifacts")
    marker = str(tmp_path / "unpickled")
    s3.put_object(Bucket="tampered-artifacts", Key=artifact["location"]["key"], Body=pickle.dumps(_Exploit(marker)))
    with pytest.raises(ArtifactIntegrityError, match="model.joblib failed verification.*refusing to load"):
        Runtime(bundle, _settings(bundle, [artifact]))
    assert not os.path.exists(marker), "the tampered pickle was loaded"
    directory = os.path.join(os.environ["MLSERVE_TMP"], "mlserve-artifacts")
    assert [n for n in os.listdir(directory) if not n.endswith(".lock")] == [], "nothing unverified stays in /tmp"


def test_a_new_pin_refetches_and_drops_the_stale_copy(moto, tmp_path):
    bundle, info, artifact, s3 = _offload(tmp_path, "repin-artifacts")
    Runtime(bundle, _settings(bundle, [artifact]))
    # A redeploy pins another artifact beside the model; then a later one pins only the model again.
    new_data = b"release notes v2\n"
    extra = {"path": "notes.txt", "sha256": hashlib.sha256(new_data).hexdigest(), "bytes": len(new_data),
             "location": {"kind": "s3", "bucket": "repin-artifacts", "key": "iris/artifacts/notes"}}
    s3.put_object(Bucket="repin-artifacts", Key="iris/artifacts/notes", Body=new_data)
    Runtime(bundle, _settings(bundle, [extra, artifact]))
    directory = os.path.join(os.environ["MLSERVE_TMP"], "mlserve-artifacts")
    assert sorted(n for n in os.listdir(directory) if not n.endswith(".lock")) == sorted([artifact["sha256"], extra["sha256"]])
    # Pin only the artifact again: the extra copy is deleted so /tmp does not fill up.
    Runtime(bundle, _settings(bundle, [artifact]))
    assert [n for n in os.listdir(directory) if not n.endswith(".lock")] == [artifact["sha256"]]


def test_not_enough_tmp_space_says_what_to_raise(moto, tmp_path):
    bundle, _, artifact, _ = _offload(tmp_path, "space-artifacts")
    artifact["bytes"] = 1 << 60
    with pytest.raises(OSError, match="raise resources.ephemeralStorage"):
        Runtime(bundle, _settings(bundle, [artifact]))
