import { open, stat } from 'node:fs/promises';
import { MlserveError } from '../../core/errors.js';
import { LocalProvider } from '../../providers/local/index.js';
import type { CommandSpec } from '../context.js';
import { openProvider, providerOption } from '../provider-context.js';

/** `--since 10m` / `2h` / `1d` / an ISO time, as epoch ms. */
export function parseSince(value: string, now = Date.now()): number {
  const m = /^(\d+)([smhd])$/.exec(value);
  if (m) return now - Number(m[1]) * { s: 1e3, m: 6e4, h: 3.6e6, d: 8.64e7 }[m[2] as 's' | 'm' | 'h' | 'd'];
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw new MlserveError('USAGE', `--since ${value}: expected a duration (30s, 10m, 2h, 1d) or an ISO time`, { hint: 'e.g. --since 10m' });
  return t;
}

export const logsCommand: CommandSpec = {
  name: 'logs',
  summary: 'print the function’s logs (--follow to keep printing)',
  options: [
    providerOption,
    { flags: '--since <when>', description: 'only lines since then: 30s, 10m, 2h, 1d, or an ISO time (default 1h)' },
    { flags: '-f, --follow', description: 'keep printing new lines until Ctrl-C' },
  ],
  examples: [
    { command: 'mlserve logs --since 10m', description: 'recent lines' },
    { command: 'mlserve logs --follow --json', description: 'one JSON object per line' },
  ],
  async run(ctx, _args, raw) {
    const { provider, id } = await openProvider(ctx, raw);
    if (!(provider instanceof LocalProvider)) throw new MlserveError('USAGE', `logs for the ${id} provider are not available yet`, { hint: 'use --provider local' });
    const since = parseSince(typeof raw.since === 'string' ? raw.since : '1h');
    const print = (line: string) => {
      const record = JSON.parse(line) as { time: string; version: number; pid: number; message: string };
      if (Date.parse(record.time) < since) return;
      ctx.io.stdout.write(ctx.options.json ? `${line}\n` : `${record.time} v${record.version} ${record.pid}  ${record.message}\n`);
    };
    let offset = 0;
    const readNew = async () => {
      const size = await stat(provider.logFile).then((s) => s.size, () => 0);
      if (size <= offset) return;
      const handle = await open(provider.logFile, 'r');
      const buf = Buffer.alloc(size - offset);
      await handle.read(buf, 0, buf.length, offset);
      await handle.close();
      const text = buf.toString('utf8');
      const complete = text.lastIndexOf('\n') + 1;
      offset += Buffer.byteLength(text.slice(0, complete));
      for (const line of text.slice(0, complete).split('\n').filter(Boolean)) print(line);
    };
    await readNew();
    if (raw.follow === true && ctx.io.signal) {
      const signal = ctx.io.signal;
      while (!signal.aborted) {
        await new Promise((r) => setTimeout(r, 250));
        await readNew();
      }
    }
    return { data: {}, printed: true };
  },
};
