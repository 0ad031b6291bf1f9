# Gatewatch's Python bootstrap: runs a `module.function` handler against the
# Lambda Runtime API, like the managed Python runtimes do.
import importlib
import json
import logging
import os
import sys
import time
import traceback
import urllib.request

API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime"


def post(path, payload, headers=None):
    data = json.dumps(payload).encode()
    req = urllib.request.Request(API + path, data=data, method="POST", headers=headers or {})
    urllib.request.urlopen(req).read()


def error_shape(exc):
    # The frames below the bootstrap's own call of the handler, one string
    # per frame, as the managed runtime reports them.
    return {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "stackTrace": traceback.format_list(traceback.extract_tb(exc.__traceback__)[1:]),
    }


class Context:
    def __init__(self, request_id, deadline_ms, arn):
        self.aws_request_id = request_id
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = arn
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        return max(0, self._deadline_ms - int(time.time() * 1000))


def error_text(shape):
    # How the managed runtime logs an unhandled error: one event holding
    # "[ERROR] Type: message" and the traceback, a line per frame line.
    head = "[ERROR] " + shape["errorType"]
    if shape["errorMessage"]:
        head += ": " + shape["errorMessage"]
    lines = [head, "Traceback (most recent call last):"]
    for frame in shape["stackTrace"]:
        lines.extend(frame.splitlines())
    return "\n".join(lines)


def log_event(message):
    # One log event, however many lines it holds (framed for Gatewatch,
    # which reads the output line by line).
    sys.stdout.write("\x00gatewatch-log-event " + json.dumps(message) + "\n")
    sys.stdout.flush()


# The invocation being run, for log records (None during init).
current_request_id = None


class _RequestIdFilter(logging.Filter):
    def filter(self, record):
        record.aws_request_id = current_request_id
        return True


class _LambdaLogHandler(logging.Handler):
    # Each record is one event, however many lines its message has.
    def emit(self, record):
        try:
            log_event(self.format(record))
        except Exception:
            self.handleError(record)


def setup_logging():
    # The root logger as the managed runtime sets it up: records in its text
    # format, `[LEVEL]\t{UTC time}.{ms}Z\t{request id}\t{message}`, a line
    # each; the level stays Python's default (WARNING) until the function
    # sets its own.
    logging.Formatter.converter = time.gmtime
    handler = _LambdaLogHandler()
    handler.setFormatter(logging.Formatter(
        "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n",
        "%Y-%m-%dT%H:%M:%S",
    ))
    handler.addFilter(_RequestIdFilter())
    logging.getLogger().addHandler(handler)


def fence(request_id):
    # Everything the handler printed is before this line on both pipes;
    # Gatewatch waits for it before it closes the invocation's log.
    for stream in (sys.stdout, sys.stderr):
        stream.write("\x00gatewatch-log-fence " + request_id + "\n")
        stream.flush()


def main():
    global current_request_id
    setup_logging()
    sys.path.insert(0, os.environ.get("LAMBDA_TASK_ROOT", "."))
    module_name, _, function_name = os.environ["_HANDLER"].rpartition(".")
    try:
        handler = getattr(importlib.import_module(module_name), function_name)
    except Exception as exc:  # the init error is reported like Lambda does
        post("/init/error", error_shape(exc), {"Lambda-Runtime-Function-Error-Type": "Runtime.ImportModuleError"})
        sys.exit(1)
    while True:
        with urllib.request.urlopen(API + "/invocation/next") as resp:
            request_id = resp.headers["Lambda-Runtime-Aws-Request-Id"]
            current_request_id = request_id
            deadline = int(resp.headers.get("Lambda-Runtime-Deadline-Ms", "0"))
            arn = resp.headers.get("Lambda-Runtime-Invoked-Function-Arn")
            event = json.loads(resp.read() or b"null")
        try:
            result = handler(event, Context(request_id, deadline, arn))
            fence(request_id)
            post("/invocation/" + request_id + "/response", result)
        except Exception as exc:
            shape = error_shape(exc)
            log_event(error_text(shape))
            fence(request_id)
            post("/invocation/" + request_id + "/error", shape,
                 {"Lambda-Runtime-Function-Error-Type": "Unhandled"})


main()
