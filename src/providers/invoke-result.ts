import { httpResponseOf } from './http-event.js';
import type { InvokeRequest, InvokeResult } from './provider.js';

/** JSON when it parses, else the text itself. */
export function parseBody(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * The one mapping from what a Lambda-style handler returned (its payload, or the error it raised) to
 * an invoke result: an HTTP request gets the status and body of the response the payload describes;
 * a raw event gets the payload itself, with the status of a direct answer such as {statusCode: 400}.
 */
export function invokeResultOf(
  request: InvokeRequest,
  payload: unknown,
  meta: { version: string; logTail?: string; functionError?: { type: string; message: string } },
): InvokeResult {
  const result: InvokeResult = { body: payload, version: meta.version };
  if (meta.logTail) result.logTail = meta.logTail;
  if (meta.functionError) {
    result.functionError = meta.functionError;
    return result;
  }
  if (request.kind === 'http') {
    const http = httpResponseOf(payload);
    result.status = http.status;
    result.body = parseBody(http.body.toString('utf8'));
    return result;
  }
  const code = (payload as { statusCode?: unknown } | null)?.statusCode;
  if (typeof code === 'number' && !('headers' in (payload as object))) result.status = code;
  return result;
}

/** The error a Lambda Invoke payload describes ({errorType, errorMessage}), for a FunctionError. */
export function functionErrorOf(payload: unknown, fallbackType: string): { type: string; message: string } {
  const e = (payload ?? {}) as { errorType?: string; errorMessage?: string };
  return { type: e.errorType ?? fallbackType, message: e.errorMessage ?? (typeof payload === 'string' ? payload.slice(0, 500) : '') };
}
