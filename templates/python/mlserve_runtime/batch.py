"""Non-HTTP events: S3 batch prediction, SQS and SNS messages, scheduled warm-ups."""
from __future__ import annotations

import csv
import io
import json
import os
from urllib.parse import unquote_plus

from .errors import HttpError
from .observability import log

CHUNK_ROWS = 1000


def _instances(payload):
    """A message body as rows: {"instances": [...]}, {"inputs": [...]} or a bare list of rows."""
    data = json.loads(payload) if isinstance(payload, (str, bytes)) else payload
    if isinstance(data, dict) and ("instances" in data or "inputs" in data):
        return data
    if isinstance(data, list):
        return {"instances": data}
    raise ValueError('expected {"instances": [...]} or a list of rows')


def handle_messages(runtime, records: list, kind: str) -> dict:
    """SQS or SNS: one prediction per record; failures are reported per record, never fatal to the batch."""
    failures = []
    for record in records:
        message_id = record.get("messageId") or (record.get("Sns") or {}).get("MessageId")
        body = record.get("body") if kind == "sqs" else (record.get("Sns") or {}).get("Message")
        try:
            result = runtime.predict_v1(_instances(body))
            log(f"{kind}_prediction", message_id=message_id, model=runtime.name, predictions=result["predictions"])
        except (ValueError, HttpError) as e:
            failures.append(message_id)
            message = e.message if isinstance(e, HttpError) else str(e)
            log(f"{kind}_record_error", message_id=message_id, error=message)
    if kind == "sqs":
        # With ReportBatchItemFailures, only these messages return to the queue.
        return {"batchItemFailures": [{"itemIdentifier": m} for m in failures]}
    return {"processed": len(records) - len(failures), "failed": failures}


def _output_for(settings: dict, bucket: str):
    for trigger in (settings.get("triggers") or {}).get("s3") or []:
        if trigger.get("bucket") == bucket:
            return trigger["output"]
    bucket_env = os.environ.get("MLSERVE_OUTPUT_BUCKET")
    if bucket_env:
        return {"bucket": bucket_env, "prefix": os.environ.get("MLSERVE_OUTPUT_PREFIX", "predictions/")}
    raise ValueError(f"no output configured for objects from bucket {bucket}: add triggers.s3[].output in mlserve.config.yaml")


def _rows(key: str, raw: bytes, by_name: bool) -> list:
    """Rows of a CSV (a header row is skipped, or used to match columns by name when the model
    was trained with feature names), JSON Lines, or JSON object."""
    text = raw.decode("utf-8-sig")
    lower = key.lower()
    if lower.endswith((".jsonl", ".ndjson")):
        return [_row(json.loads(line)) for line in text.splitlines() if line.strip()]
    if lower.endswith(".json"):
        data = json.loads(text)
        return list(data["instances"] if isinstance(data, dict) else data)
    rows = list(csv.reader(io.StringIO(text)))
    if rows and not all(_number(c) for c in rows[0]):
        header, rows = rows[0], rows[1:]
        if by_name:
            return [dict(zip(header, (float(c) for c in r))) for r in rows if r]
    return [[float(c) for c in r] for r in rows if r]


def _row(value):
    return value["instances"][0] if isinstance(value, dict) and "instances" in value else value


def _number(cell: str) -> bool:
    try:
        float(cell)
        return True
    except ValueError:
        return False


def handle_s3(runtime, records: list) -> dict:
    """Score each new object and write one JSON prediction per line to the configured output."""
    import boto3  # provided by the Lambda runtime

    s3 = boto3.client("s3")
    written = []
    for record in records:
        bucket = record["s3"]["bucket"]["name"]
        key = unquote_plus(record["s3"]["object"]["key"])  # keys arrive URL-encoded ("a+b" is "a b")
        output = _output_for(runtime.settings, bucket)
        prefix = output.get("prefix", "predictions/")
        if output["bucket"] == bucket and key.startswith(prefix):
            log("s3_skip_own_output", bucket=bucket, key=key)  # never trigger on our own output
            continue
        raw = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        rows = _rows(key, raw, bool(getattr(runtime.model, "feature_names", None)))
        lines = []
        for start in range(0, len(rows), CHUNK_ROWS):
            predictions = runtime.model.predict(rows[start:start + CHUNK_ROWS])
            lines.extend(json.dumps(p) for p in predictions)
        out_key = f"{prefix}{key}.predictions.jsonl"
        s3.put_object(Bucket=output["bucket"], Key=out_key, Body=("\n".join(lines) + "\n").encode(),
                      ContentType="application/x-ndjson")
        log("s3_batch", input=f"s3://{bucket}/{key}", output=f"s3://{output['bucket']}/{out_key}", rows=len(rows), model=runtime.name)
        written.append({"input": f"s3://{bucket}/{key}", "output": f"s3://{output['bucket']}/{out_key}", "rows": len(rows)})
    return {"written": written}
