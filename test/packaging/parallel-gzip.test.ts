import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parallelGzip } from '../../src/packaging/image/parallel-gzip.js';
import { tempDir } from '../helpers/python.js';

async function gzip(parts: Buffer[], jobs?: number): Promise<Buffer> {
  const stream = parallelGzip(6, jobs);
  const out: Buffer[] = [];
  stream.on('data', (c: Buffer) => out.push(c));
  const ended = new Promise((resolve, reject) => stream.on('end', resolve).on('error', reject));
  for (const p of parts) stream.write(p);
  stream.end();
  await ended;
  return Buffer.concat(out);
}

describe('gzip on every core', () => {
  it('gives one gzip member that gzip and Python read back exactly, the same bytes for the same input whatever the job count or write sizes', async () => {
    // 21 MB over three 8 MiB chunks: random (incompressible) and repeated bytes, written unevenly.
    const input = Buffer.concat([randomBytes(5_000_000), Buffer.alloc(12_000_000, 7), randomBytes(4_000_000)]);
    const parts = [input.subarray(0, 1), input.subarray(1, 9_000_001), input.subarray(9_000_001)];
    const one = await gzip(parts, 1);
    expect((await gzip([input], 4)).equals(one)).toBe(true);
    expect(one.length).toBeLessThan(input.length * 0.5);
    const file = join(tempDir('pgz-'), 'blob.gz');
    writeFileSync(file, one);
    expect(execFileSync('gzip', ['-dc', file], { maxBuffer: 64 * 1024 * 1024 }).equals(input)).toBe(true);
    const python = execFileSync('python3', ['-c', 'import gzip, hashlib, sys; print(hashlib.sha256(gzip.open(sys.argv[1]).read()).hexdigest())', file], { encoding: 'utf8' }).trim();
    const { createHash } = await import('node:crypto');
    expect(python).toBe(createHash('sha256').update(input).digest('hex'));
  });

  it('writes a valid empty gzip for no input', async () => {
    const file = join(tempDir('pgz-'), 'empty.gz');
    writeFileSync(file, await gzip([]));
    expect(execFileSync('gzip', ['-dc', file]).length).toBe(0);
  });
});
