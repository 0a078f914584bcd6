import { MlserveError } from '../../core/errors.js';
import type { LogLine } from '../../providers/provider.js';
import type { CommandBody } from '../context.js';
import { openProvider, providerFlagOptions, providerOption } from '../provider-context.js';

/** `30s`, `10m`, `2h`, `1d` in ms, or undefined when the text is not one. */
function durationOf(value: string): number | undefined {
  const m = /^(\d+)([smhd])$/.exec(value);
  return m ? Number(m[1]) * { s: 1e3, m: 6e4, h: 3.6e6, d: 8.64e7 }[m[2] as 's' | 'm' | 'h' | 'd'] : undefined;
}

/** `--since 10m` / `2h` / `1d` / an ISO time, as epoch ms. */
export function parseSince(value: string, now = Date.now()): number {
  const ago = durationOf(value);
  if (ago !== undefined) return now - ago;
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw new MlserveError('USAGE', `--since ${value}: expected a duration (30s, 10m, 2h, 1d) or an ISO time`, { hint: 'e.g. --since 10m' });
  return t;
}

/** A duration (`30s`, `10m`, `2h`, `1d`) in ms; `flag` names it in the error. */
export function parseDuration(value: string, flag: string): number {
  const ms = durationOf(value);
  if (!ms) throw new MlserveError('USAGE', `${flag} ${value}: expected a duration such as 30s, 10m, 2h`, { hint: `e.g. ${flag} 10m` });
  return ms;
}

export const logsCommand: CommandBody = {
  options: [
    providerOption,
    ...providerFlagOptions,
    { flags: '--since <when>', description: 'only lines since then: 30s, 10m, 2h, 1d, or an ISO time (default 1h)' },
    { flags: '-f, --follow', description: 'keep printing new lines until Ctrl-C' },
  ],
  examples: [
    { command: 'mlserve logs --since 10m', description: 'recent lines' },
    { command: 'mlserve logs --follow --json', description: 'one JSON object per line' },
  ],
  async run(ctx, _args, raw) {
    const { provider } = await openProvider(ctx, raw);
    const since = parseSince(typeof raw.since === 'string' ? raw.since : '1h');
    const follow = raw.follow === true;
    const lines: LogLine[] = [];
    // --json: one document with every line, or (with --follow) one JSON object per line as they come.
    await provider.logs(since, follow, (line) => {
      if (ctx.options.json && !follow) lines.push(line);
      else ctx.io.stdout.write(ctx.options.json ? `${JSON.stringify(line)}\n` : `${line.time} ${line.stream}  ${line.message}\n`);
    });
    if (ctx.options.json && !follow) ctx.io.stdout.write(`${JSON.stringify({ ok: true, lines })}\n`);
    return { data: {}, printed: true };
  },
};
