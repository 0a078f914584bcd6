import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import * as zlib from 'node:zlib';
import type { Digest } from './digests.js';

/** One file's digest, and its raw deflate stream unless that content was already known (cached). */
export interface Deflated {
  digest: Digest;
  data?: Buffer;
}

/** What `deflateOne` uses, passed in: it runs from its source text in a worker, where no import reaches. */
interface Modules {
  fs: Pick<typeof fs, 'openSync' | 'fstatSync' | 'readSync' | 'closeSync'>;
  createHash: typeof createHash;
  crc32: typeof zlib.crc32;
  deflateRawSync: typeof zlib.deflateRawSync;
  /** The read buffer, kept between files and grown as needed: a new one per file cost a page fault per 4 KiB. */
  scratch: { buf: Buffer };
}

/**
 * Read, digest (SHA-256, CRC-32, size) and, unless its SHA-256 is in `known`, deflate one file: the
 * unit of work on every thread. The stream is returned in a buffer of its own, exactly its size, so
 * a worker can transfer it rather than copy it. Self-contained, with no nested functions, because
 * the workers run it from `deflateOne.toString()`.
 */
function deflateOne(m: Modules, path: string, level: number, known: ReadonlySet<string>): Deflated {
  const fd = m.fs.openSync(path, 'r');
  let size = 0;
  try {
    const want = m.fs.fstatSync(fd).size;
    if (want > m.scratch.buf.length) m.scratch.buf = Buffer.allocUnsafeSlow(Math.max(want, 2 * m.scratch.buf.length));
    for (let n = -1; n !== 0 && size < want; size += n) n = m.fs.readSync(fd, m.scratch.buf, size, want - size, size);
  } finally {
    m.fs.closeSync(fd);
  }
  const bytes = m.scratch.buf.subarray(0, size);
  const digest = { sha256: m.createHash('sha256').update(bytes).digest('hex'), crc32: m.crc32(bytes), size };
  if (known.has(digest.sha256)) return { digest };
  const deflated = m.deflateRawSync(bytes, { level });
  const data = Buffer.allocUnsafeSlow(deflated.length);
  deflated.copy(data);
  return { digest, data };
}

const MODULES: Modules = { fs, createHash, crc32: zlib.crc32, deflateRawSync: zlib.deflateRawSync, scratch: { buf: Buffer.alloc(0) } };

/**
 * A worker's program, from source text rather than a file beside this one, so it runs the same from
 * dist/ and from src/ under the tests: batches of [index, path] in, one reply per batch out, each
 * stream's buffer transferred.
 */
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const m = { fs: require('node:fs'), createHash: require('node:crypto').createHash, crc32: require('node:zlib').crc32, deflateRawSync: require('node:zlib').deflateRawSync, scratch: { buf: Buffer.alloc(0) } };
const deflateOne = ${deflateOne.toString()};
const known = new Set(workerData.known);
parentPort.on('message', (batch) => {
  let reply;
  try {
    reply = { results: batch.map(([i, path]) => [i, deflateOne(m, path, workerData.level, known)]) };
  } catch (error) {
    parentPort.postMessage({ error: { message: error.message, code: error.code } });
    return;
  }
  parentPort.postMessage(reply, reply.results.flatMap(([, r]) => (r.data ? [r.data.buffer] : [])));
});
`;

/** Below this many bytes in all, the files are deflated on this thread: starting a worker costs more. */
const INLINE_BYTES = 4 * 1024 * 1024;
/** Bytes of input handed to a worker at a time: large enough that the hand-offs do not count. */
const BATCH_BYTES = 1024 * 1024;

/** What a worker posts back for one batch. */
type WorkerReply = { results: [number, { digest: Digest; data?: Uint8Array }][] } | { error: { message: string; code?: string } };

/**
 * Deflate files on every core: each worker thread reads, digests and deflates whole batches of files
 * with zlib's one-shot calls, largest files first, so no core idles while another finishes a big one.
 * `onResult` gets each file's result (by its index in `files`) as it arrives, so the caller can
 * write them out and drop them instead of holding every stream at once. One thread per core,
 * where one `deflateRaw` on libuv's pool per file was a thread hand-off and a futex per file, and
 * five busy threads on two cores.
 */
export async function deflateFiles(
  files: { path: string; size: number }[],
  level: number,
  known: ReadonlySet<string>,
  onResult: (index: number, result: Deflated) => void,
): Promise<void> {
  const total = files.reduce((n, f) => n + f.size, 0);
  if (total < INLINE_BYTES) {
    files.forEach((f, i) => onResult(i, deflateOne(MODULES, f.path, level, known)));
    return;
  }
  const order = files.map((_, i) => i).sort((a, b) => files[b]!.size - files[a]!.size);
  let next = 0;
  const batch = (): [number, string][] => {
    const out: [number, string][] = [];
    for (let bytes = 0; next < order.length && (out.length === 0 || bytes < BATCH_BYTES); next++) {
      const i = order[next]!;
      out.push([i, files[i]!.path]);
      bytes += files[i]!.size;
    }
    return out;
  };
  const threads = Math.min(availableParallelism(), Math.ceil(total / INLINE_BYTES));
  const workers = Array.from({ length: threads }, () => new Worker(WORKER, { eval: true, workerData: { level, known: [...known] } }));
  try {
    await Promise.all(workers.map((w) => drive(w, batch, onResult)));
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

/** Feed one worker batches until none are left; settle with its first failure. */
function drive(worker: Worker, batch: () => [number, string][], onResult: (index: number, result: Deflated) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const send = () => {
      const next = batch();
      if (next.length === 0) resolve();
      else worker.postMessage(next);
    };
    worker.on('message', (reply: WorkerReply) => {
      if ('error' in reply) {
        reject(Object.assign(new Error(reply.error.message), { code: reply.error.code }));
        return;
      }
      try {
        for (const [i, r] of reply.results) onResult(i, r.data ? { digest: r.digest, data: Buffer.from(r.data.buffer, r.data.byteOffset, r.data.byteLength) } : { digest: r.digest });
      } catch (error) {
        reject(error as Error);
        return;
      }
      send();
    });
    worker.on('error', reject);
    worker.on('exit', (code) => reject(new Error(`a deflate worker exited (code ${code}) before its work was done`)));
    send();
  });
}
