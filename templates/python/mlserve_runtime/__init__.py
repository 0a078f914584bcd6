"""mlserve's runtime: one core shared by the AWS Lambda, Azure Functions and local entry points.

Standard library only, apart from the model's own framework (imported when the model loads) and,
for S3 artifacts and batch jobs on AWS, the boto3 the Lambda runtime provides.
"""

HANDLER_VERSION = "1"
