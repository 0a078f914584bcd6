"""CloudFormation custom resource: one Lambda notification on a bucket the stack does not own.

CloudFormation can only declare notifications as a property of a bucket in the same stack; mlserve's
S3 triggers watch the user's own buckets, so this adds (Create, Update) or removes (Delete) exactly
one notification, by Id, and keeps every other one the bucket has: what `mlserve deploy` does.
Inlined into the exported template (ZipFile), where CloudFormation provides `cfnresponse`.
"""

import boto3

s3 = boto3.client("s3")


def apply(props, remove):
    """Put the bucket's notification configuration back with this Id's rule replaced (or removed)."""
    bucket = props["Bucket"]
    try:
        current = s3.get_bucket_notification_configuration(Bucket=bucket)
    except s3.exceptions.NoSuchBucket:
        if remove:
            return bucket + "/" + props["Id"]  # the bucket is gone, and its notifications with it
        raise
    current.pop("ResponseMetadata", None)
    rules = [r for r in current.get("LambdaFunctionConfigurations", []) if r.get("Id") != props["Id"]]
    if not remove:
        rule = {"Id": props["Id"], "LambdaFunctionArn": props["LambdaFunctionArn"], "Events": props["Events"]}
        if props.get("FilterRules"):
            rule["Filter"] = {"Key": {"FilterRules": props["FilterRules"]}}
        rules.append(rule)
    current["LambdaFunctionConfigurations"] = rules
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=current)
    return bucket + "/" + props["Id"]


def handler(event, context):
    import cfnresponse

    physical = event.get("PhysicalResourceId")
    if event["RequestType"] == "Delete" and physical == "failed":
        cfnresponse.send(event, context, cfnresponse.SUCCESS, {}, physical)  # a create that never applied
        return
    try:
        # A changed bucket or Id gets a new physical ID: CloudFormation then deletes the old one.
        physical = apply(event["ResourceProperties"], event["RequestType"] == "Delete")
        cfnresponse.send(event, context, cfnresponse.SUCCESS, {}, physical)
    except Exception as error:  # noqa: BLE001 - any failure must reach CloudFormation, or the stack hangs
        reason = type(error).__name__ + ": " + str(error)
        cfnresponse.send(event, context, cfnresponse.FAILED, {}, physical or "failed", reason=reason)
