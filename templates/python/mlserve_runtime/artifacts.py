"""Offloaded model artifacts: fetched at cold start, SHA-256 verified before anything loads them.

Each artifact is pinned in mlserve.json as {path, sha256, bytes, location}. It is streamed to
<tmp>/mlserve-artifacts/<sha256>.part while hashing, compared with the pin, and only then renamed to
<sha256>: a file under its final name has always been verified. A lock file makes concurrent workers
sharing a /tmp fetch once. Copies under other hashes (a previous deploy) are deleted first, so a warm
sandbox never keeps a stale model and /tmp does not fill up.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil

from .errors import ArtifactIntegrityError
from .settings import tmp_root

CHUNK = 1024 * 1024


def artifact_dir() -> str:
    return os.path.join(tmp_root(), "mlserve-artifacts")


def fetch_all(artifacts: list, log) -> dict:
    """Make every pinned artifact available locally; returns {relative path: local verified path}."""
    paths = {}
    if not artifacts:
        return paths
    directory = artifact_dir()
    os.makedirs(directory, exist_ok=True)
    keep = {a["sha256"] for a in artifacts}
    for name in os.listdir(directory):
        if name.split(".")[0] not in keep and not name.endswith(".lock"):
            _remove(os.path.join(directory, name))
    for artifact in artifacts:
        paths[artifact["path"]] = fetch(artifact, directory, log)
    return paths


def verify_local(artifacts: list, local: dict) -> dict:
    """The pre-flight's stand-in for fetch_all: each pinned artifact from a local path, hash-checked."""
    paths = {}
    for artifact in artifacts:
        path = local.get(artifact["path"])
        if not path:
            raise ArtifactIntegrityError(f"artifact {artifact['path']} has no local copy for the pre-flight")
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(CHUNK), b""):
                digest.update(chunk)
        if digest.hexdigest() != artifact["sha256"]:
            raise ArtifactIntegrityError(f"artifact {artifact['path']} changed since it was packaged: package again")
        paths[artifact["path"]] = path
    return paths


def fetch(artifact: dict, directory: str, log) -> str:
    sha = artifact["sha256"]
    final = os.path.join(directory, sha)
    with open(final + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.exists(final) and os.path.getsize(final) == artifact.get("bytes", os.path.getsize(final)):
            log("artifact_reused", path=artifact["path"], sha256=sha)
            return final
        need = int(artifact.get("bytes", 0))
        free = shutil.disk_usage(directory).free
        if need and free < need:
            raise OSError(f"not enough space in {directory} for {artifact['path']}: need {need} bytes, {free} free; "
                          "raise resources.ephemeralStorage")
        part = f"{final}.{os.getpid()}.part"
        digest = hashlib.sha256()
        size = 0
        try:
            with open(part, "wb") as out:
                for chunk in _open_stream(artifact["location"]):
                    digest.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
                out.flush()
                os.fsync(out.fileno())
            actual = digest.hexdigest()
            if actual != sha:
                raise ArtifactIntegrityError(
                    f"artifact {artifact['path']} failed verification: sha256 {actual} != pinned {sha}; "
                    "refusing to load it (redeploy with `mlserve deploy` to upload the right file)")
            os.replace(part, final)
        finally:
            _remove(part)
        log("artifact_fetched", path=artifact["path"], sha256=sha, bytes=size)
        return final


def _open_stream(location: dict):
    kind = location.get("kind")
    if kind == "s3":
        import boto3  # provided by the Lambda runtime

        # The bucket is chosen at deploy time and given to the function as MLSERVE_ARTIFACTS_BUCKET.
        bucket = location.get("bucket") or os.environ["MLSERVE_ARTIFACTS_BUCKET"]
        body = boto3.client("s3", region_name=location.get("region")).get_object(Bucket=bucket, Key=location["key"])["Body"]
        yield from body.iter_chunks(CHUNK)
    elif kind == "azure-blob":
        url = location.get("url") or f"{os.environ['MLSERVE_ARTIFACTS_URL'].rstrip('/')}/{location['key']}"
        yield from _http_chunks(url, _azure_headers(url))
    elif kind == "file":
        with open(location["path"], "rb") as f:
            yield from iter(lambda: f.read(CHUNK), b"")
    else:
        raise ValueError(f"unknown artifact location kind {kind!r}")


def _azure_headers(url: str) -> dict:
    headers = {"x-ms-version": "2021-08-06"}
    if "sig=" in url:
        return headers  # a SAS URL carries its own authorization
    # Managed identity (App Service / Functions): IDENTITY_ENDPOINT + IDENTITY_HEADER.
    endpoint, secret = os.environ.get("IDENTITY_ENDPOINT"), os.environ.get("IDENTITY_HEADER")
    if not endpoint or not secret:
        raise RuntimeError("no managed identity (IDENTITY_ENDPOINT) to read the model blob: enable the function's identity")
    query = "resource=https://storage.azure.com/&api-version=2019-08-01"
    client_id = os.environ.get("MLSERVE_IDENTITY_CLIENT_ID")
    if client_id:
        query += f"&client_id={client_id}"
    import urllib.request  # here: 30 ms of every cold start otherwise, for the offloaded models only

    request = urllib.request.Request(f"{endpoint}?{query}", headers={"X-IDENTITY-HEADER": secret})
    with urllib.request.urlopen(request, timeout=10) as response:
        token = json.load(response)["access_token"]
    headers["Authorization"] = f"Bearer {token}"
    return headers


def _http_chunks(url: str, headers: dict):
    import urllib.request  # here: 30 ms of every cold start otherwise, for the offloaded models only

    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=30) as response:
        yield from iter(lambda: response.read(CHUNK), b"")


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass
