"""The bundled example's Lambda function: greets by name and echoes what API
Gateway sent, so the request id can be matched with the response header.
`/hello/error` makes it raise, to see a failing invocation in the logs."""
import json


def handler(event, context):
    name = (event.get("pathParameters") or {}).get("name", "world")
    if name == "error":
        print("about to fail, as asked")
        raise RuntimeError("asked to fail for the tour")
    print(f"greeting {name}")
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps({
            "message": f"Hello, {name}!",
            "requestId": event["requestContext"]["requestId"],
            "lambdaRequestId": context.aws_request_id,
            "path": event["path"],
        }),
    }
