import { fstatSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { MlserveError } from '../errors.js';
import { fmt } from '../../packaging/plan.js';
import type { InvokeRequest, InvokeResult } from '../../providers/provider.js';

export interface InvokeFlags {
  data?: string;
  dataFile?: string;
  event?: string;
  path?: string;
  method?: string;
  version?: string;
}

/**
 * Build the request from flags: --event (a raw event), else an HTTP request with --data/--data-file/stdin.
 * A payload over `maxBytes` (the platform's synchronous limit) is refused here, before any call.
 */
export async function buildInvokeRequest(flags: InvokeFlags, cwd: string, stdin: NodeJS.ReadableStream & { isTTY?: boolean; fd?: number }, maxBytes: number): Promise<InvokeRequest> {
  const sources = [flags.data !== undefined, flags.dataFile !== undefined, flags.event !== undefined].filter(Boolean).length;
  if (sources > 1) throw new MlserveError('USAGE', 'use one of --data, --data-file and --event', { hint: 'mlserve invoke --data \'{"instances": [[5.1, 3.5, 1.4, 0.2]]}\'' });
  const qualifier = flags.version ? { qualifier: flags.version } : {};
  if (flags.event !== undefined) {
    const text = await readText(flags.event, cwd, stdin, '--event');
    checkSize(text, maxBytes);
    return { kind: 'event', event: parseJson(text, `--event ${flags.event}`), ...qualifier };
  }
  let body: string | undefined = flags.data;
  if (flags.dataFile !== undefined) body = await readText(flags.dataFile, cwd, stdin, '--data-file');
  else if (body === undefined && pipedStdin(stdin)) body = (await readStream(stdin)) || undefined;
  if (body !== undefined) {
    parseJson(body, flags.dataFile ? `--data-file ${flags.dataFile}` : '--data');
    checkSize(body, maxBytes);
  }
  const method = (flags.method ?? (body === undefined ? 'GET' : 'POST')).toUpperCase();
  const path = flags.path ?? '/';
  return { kind: 'http', method, path: path.startsWith('/') ? path : `/${path}`, ...(body !== undefined ? { body } : {}), ...qualifier };
}

export function checkSize(payload: string, maxBytes: number): void {
  const bytes = Buffer.byteLength(payload);
  if (bytes > maxBytes) {
    throw new MlserveError('PAYLOAD_TOO_LARGE', `the payload is ${bytes} bytes; synchronous invocations take at most ${maxBytes} (${fmt(maxBytes)})`, {
      hint: 'send fewer rows per request, or put the rows in S3 and use an S3 trigger for batch prediction',
    });
  }
}

/** Stdin counts as a payload only when it is a pipe or a redirected file, never a terminal or a socket left open by a parent. */
function pipedStdin(stdin: NodeJS.ReadableStream & { isTTY?: boolean; fd?: number }): boolean {
  if (stdin.isTTY || stdin.fd !== 0) return false;
  try {
    const s = fstatSync(0);
    return s.isFIFO() || s.isFile();
  } catch {
    return false;
  }
}

async function readText(source: string, cwd: string, stdin: NodeJS.ReadableStream, flag: string): Promise<string> {
  if (source === '-') return readStream(stdin);
  try {
    const { resolve } = await import('node:path');
    return await readFile(resolve(cwd, source), 'utf8');
  } catch {
    throw new MlserveError('USAGE', `${flag} ${source}: cannot read the file`, { hint: 'check the path (or use - for stdin)' });
  }
}

async function readStream(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer | string>) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks).toString('utf8');
}

function parseJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new MlserveError('USAGE', `${where} is not valid JSON: ${(error as Error).message}`, { hint: 'e.g. --data \'{"instances": [[5.1, 3.5, 1.4, 0.2]]}\'' });
  }
}

/** Does `actual` contain `expected` (objects: every expected key matches; arrays and scalars: equal)? */
export function containsJson(actual: unknown, expected: unknown): boolean {
  if (expected !== null && typeof expected === 'object' && !Array.isArray(expected)) {
    if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) return false;
    return Object.entries(expected).every(([k, v]) => containsJson((actual as Record<string, unknown>)[k], v));
  }
  if (Array.isArray(expected)) {
    return Array.isArray(actual) && actual.length === expected.length && expected.every((v, i) => containsJson(actual[i], v));
  }
  return Object.is(actual, expected) || (typeof actual === 'number' && typeof expected === 'number' && actual === expected);
}

/** Decide success the way CI needs it: a function error, a non-2xx status, or a failed --expect-* is an error. */
export function checkInvokeResult(result: InvokeResult, expect: { status?: number; json?: unknown }): void {
  const shown = JSON.stringify(result.body);
  if (result.functionError && expect.status === undefined) {
    throw new MlserveError('FUNCTION_ERROR', `the function failed: ${result.functionError.type}: ${result.functionError.message}`, {
      hint: 'see `mlserve logs`, or run with --debug for the log tail',
      details: { status: result.status ?? null, body: result.body, logTail: result.logTail ?? null },
    });
  }
  if (expect.status !== undefined && result.status !== expect.status) {
    throw new MlserveError('INVOKE_ASSERTION', `expected status ${expect.status}, received ${result.status ?? 'none'}: ${shown.slice(0, 500)}`, {
      hint: 'the response body is shown above',
      details: { expected: { status: expect.status }, received: { status: result.status ?? null, body: result.body } },
    });
  }
  if (expect.status === undefined && result.status !== undefined && (result.status < 200 || result.status > 299)) {
    const error = (result.body as { error?: { code?: string; message?: string } } | null)?.error;
    throw new MlserveError('FUNCTION_ERROR', `HTTP ${result.status}${error ? ` ${error.code}: ${error.message}` : `: ${shown.slice(0, 500)}`}`, {
      hint: 'pass --expect-status <n> when this status is what you expect',
      details: { status: result.status, body: result.body },
    });
  }
  if (expect.json !== undefined && !containsJson(result.body, expect.json)) {
    throw new MlserveError('INVOKE_ASSERTION', `the response does not contain the expected JSON\n  expected: ${JSON.stringify(expect.json)}\n  received: ${shown.slice(0, 2000)}`, {
      hint: '--expect-json matches a subset: every key given must be present with that value',
      details: { expected: expect.json, received: result.body },
    });
  }
}
