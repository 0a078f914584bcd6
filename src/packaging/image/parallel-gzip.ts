import { availableParallelism } from 'node:os';
import { Transform, type TransformCallback } from 'node:stream';
import { promisify } from 'node:util';
import { constants, crc32, deflateRaw } from 'node:zlib';

const deflate = promisify(deflateRaw) as (data: Buffer, options: { level: number; finishFlush: number }) => Promise<Buffer>;

/** Input bytes per deflate job: fixed, so the same input always gives the same output. */
const CHUNK = 8 * 1024 * 1024;
/** gzip header (RFC 1952): deflate, no flags, mtime 0, no extra flags, OS Unix. */
const HEADER = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0x03]);

/**
 * gzip on every core, as pigz does: the input is cut into fixed 8 MiB chunks, each deflated on
 * the thread pool with a sync flush (the last with finish), and the raw deflate streams written in
 * order inside one gzip member with the CRC-32 and size of the whole. One member, so every gzip
 * reader reads it; the same bytes in give the same bytes out. (Node's zlib deflates a stream on one
 * thread, and no maintained npm package does this without a native build.)
 */
export function parallelGzip(level = 6, jobs = Math.max(1, availableParallelism())): Transform {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let crc = 0;
  let size = 0;
  const queue: Promise<Buffer>[] = [];
  const start = (data: Buffer, last: boolean) => {
    const job = deflate(data, { level, finishFlush: last ? constants.Z_FINISH : constants.Z_SYNC_FLUSH });
    job.catch(() => undefined); // awaited in order below, where its error is raised
    queue.push(job);
  };
  const take = () => {
    const data = Buffer.concat(pending, pendingBytes);
    pending = [];
    pendingBytes = 0;
    return data;
  };
  return new Transform({
    construct(callback) {
      this.push(HEADER);
      callback();
    },
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      crc = crc32(chunk, crc);
      size += chunk.length;
      pending.push(chunk);
      pendingBytes += chunk.length;
      const run = async () => {
        while (pendingBytes >= CHUNK) {
          const data = take();
          start(data.subarray(0, CHUNK), false);
          if (data.length > CHUNK) {
            pending = [data.subarray(CHUNK)];
            pendingBytes = data.length - CHUNK;
          }
          while (queue.length > jobs) this.push(await queue.shift()!);
        }
      };
      run().then(() => callback(), callback);
    },
    flush(callback: TransformCallback) {
      start(take(), true);
      const drain = async () => {
        while (queue.length) this.push(await queue.shift()!);
        const trailer = Buffer.alloc(8);
        trailer.writeUInt32LE(crc >>> 0, 0);
        trailer.writeUInt32LE(size % 2 ** 32, 4);
        this.push(trailer);
      };
      drain().then(() => callback(), callback);
    },
  });
}
