// Gatewatch's Node.js bootstrap: runs a `module.function` handler against the
// Lambda Runtime API, like the managed Node.js runtimes do.
import { pathToFileURL } from "node:url";
import path from "node:path";
import fs from "node:fs";
import util from "node:util";

const API = `http://${process.env.AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime`;

function errorShape(err) {
  return {
    errorMessage: err && err.message !== undefined ? String(err.message) : String(err),
    errorType: (err && err.name) || "Error",
    stackTrace: err && err.stack ? String(err.stack).split("\n").slice(1).map((l) => l.trim()) : [],
  };
}

async function post(p, payload, headers = {}) {
  await fetch(API + p, { method: "POST", body: JSON.stringify(payload), headers });
}

async function load() {
  const root = process.env.LAMBDA_TASK_ROOT || ".";
  const handlerSpec = process.env._HANDLER;
  const dot = handlerSpec.lastIndexOf(".");
  const moduleName = handlerSpec.slice(0, dot);
  const functionName = handlerSpec.slice(dot + 1);
  for (const ext of [".mjs", ".js", ".cjs"]) {
    const file = path.join(root, moduleName + ext);
    if (fs.existsSync(file)) {
      const mod = await import(pathToFileURL(file).href);
      const fn = mod[functionName] ?? (mod.default && mod.default[functionName]);
      if (typeof fn !== "function") throw new Error(`${handlerSpec} is undefined or not exported`);
      return fn;
    }
  }
  throw new Error(`Cannot find module '${moduleName}'`);
}

// The invocation being run (`undefined` during init, as on Lambda).
let currentRequestId;

// One log event as the managed runtime writes it in its text format,
// `{time}\t{request id}\t{LEVEL}\t{message}`, framed for Gatewatch so that a
// message of several lines stays one event.
function logEvent(level, message) {
  const text = `${new Date().toISOString()}\t${currentRequestId}\t${level}\t${message}`;
  process.stdout.write(`\u0000gatewatch-log-event ${JSON.stringify(text)}\n`);
}

for (const [method, level] of [
  ["log", "INFO"],
  ["info", "INFO"],
  ["warn", "WARN"],
  ["error", "ERROR"],
  ["debug", "DEBUG"],
  ["trace", "TRACE"],
]) {
  console[method] = (...args) => logEvent(level, util.format(...args));
}

let handler;
try {
  handler = await load();
} catch (err) {
  await post("/init/error", errorShape(err), { "Lambda-Runtime-Function-Error-Type": "Runtime.ImportModuleError" });
  process.exit(1);
}

// Everything the handler printed is before this line on both pipes;
// Gatewatch waits for it before it closes the invocation's log.
function fence(requestId) {
  const line = `\u0000gatewatch-log-fence ${requestId}\n`;
  return Promise.all(
    [process.stdout, process.stderr].map((s) => new Promise((done) => s.write(line, done))),
  );
}

for (;;) {
  const next = await fetch(API + "/invocation/next");
  const requestId = next.headers.get("lambda-runtime-aws-request-id");
  currentRequestId = requestId;
  const deadline = Number(next.headers.get("lambda-runtime-deadline-ms") || 0);
  const event = JSON.parse((await next.text()) || "null");
  const context = {
    awsRequestId: requestId,
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    invokedFunctionArn: next.headers.get("lambda-runtime-invoked-function-arn"),
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
  try {
    const result = await handler(event, context);
    await fence(requestId);
    await post(`/invocation/${requestId}/response`, result === undefined ? null : result);
  } catch (err) {
    // As the managed runtime logs an unhandled error.
    const shape = errorShape(err);
    logEvent(
      "ERROR",
      `Invoke Error \t${JSON.stringify({
        errorType: shape.errorType,
        errorMessage: shape.errorMessage,
        stack: err && err.stack ? String(err.stack).split("\n") : [],
      })}`,
    );
    await fence(requestId);
    await post(`/invocation/${requestId}/error`, shape, { "Lambda-Runtime-Function-Error-Type": "Unhandled" });
  }
}
