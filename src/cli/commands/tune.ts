import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MlserveError } from '../../core/errors.js';
import { writeFileAtomic } from '../../core/fs.js';
import { SAMPLE_FILE } from '../../core/sample.js';
import type { TuneResult } from '../../core/actions/tune.js';
import type { CommandBody } from '../context.js';
import { openProvider, providerFlagOptions, providerOption } from '../provider-context.js';

const DEFAULT_SIZES = [512, 1024, 1769, 3008, 5307];

function listOf(value: unknown, flag: string, fallback: number[]): number[] {
  if (typeof value !== 'string') return fallback;
  const sizes = value.split(',').map((s) => Number(s.trim()));
  if (!sizes.length || !sizes.every((s) => Number.isInteger(s) && s >= 128 && s <= 10240)) throw new MlserveError('USAGE', `${flag} ${value}: expected memory sizes in MB from 128 to 10240, e.g. 512,1024,1769`, { hint: `${flag} 512,1024,1769,3008` });
  return [...new Set(sizes)].sort((a, b) => a - b);
}

function millis(value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  const m = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(String(value));
  if (!m || Number(m[1]) <= 0) throw new MlserveError('USAGE', `--p99 ${String(value)}: expected a latency such as 200ms or 1.5s`, { hint: '--p99 200ms' });
  return Number(m[1]) * (m[2] === 's' ? 1000 : 1);
}

const cell = (v: number | null, digits = 0) => (v === null ? '-' : v.toFixed(digits));

function table(result: TuneResult): string {
  const head = ['memory MB', 'p50 ms', 'p99 ms', 'cold ms', 'max MB', '$ per 1M', 'meets'];
  const rows = result.rows.map((r) => [String(r.memoryMb), cell(r.p50), cell(r.p99), cell(r.coldMs), cell(r.maxMemoryMb), cell(r.costPerMillion, 2), r.failure ? `no: ${r.failure}` : r.meets ? (r === result.choice ? 'yes  ← cheapest' : 'yes') : 'no']);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [head, ...rows].map((r) => r.map((v, i) => (i === r.length - 1 ? v : v.padStart(widths[i]!))).join('  ')).join('\n');
}

/** resources.memory set in the config file (in the stage's section when that sets it), comments kept. */
async function applyMemory(file: string, stage: string, memory: number): Promise<string> {
  const { parseDocument } = await import('yaml');
  const doc = parseDocument(await readFile(file, 'utf8'));
  const path = doc.hasIn(['stages', stage, 'resources', 'memory']) ? ['stages', stage, 'resources', 'memory'] : ['resources', 'memory'];
  doc.setIn(path, memory);
  await writeFileAtomic(file, doc.toString());
  return path.join('.');
}

export const tuneCommand: CommandBody = {
  description:
    'Find the memory size with the lowest cost per million requests whose p99 meets a target: the deployed version runs at each size with the CPU share Lambda gives that memory (1,769 MB = one vCPU), one cold request and then --requests warm ones each, at list prices. --apply writes the choice to resources.memory.',
  options: [
    providerOption,
    ...providerFlagOptions,
    { flags: '--p99 <latency>', description: 'the target, e.g. 200ms (default monitoring.p99)' },
    { flags: '--sizes <mb,...>', description: `memory sizes to try (default ${DEFAULT_SIZES.join(',')})` },
    { flags: '--requests <n>', description: 'warm requests per size (default 30)' },
    { flags: '--data <json>', description: `the request body (default ${SAMPLE_FILE})` },
    { flags: '--apply', description: 'write the chosen size to resources.memory in the config' },
  ],
  examples: [
    { command: 'mlserve tune --p99 200ms', description: 'the table and the choice' },
    { command: 'mlserve tune --p99 150ms --apply', description: 'and write it to the config' },
  ],
  async run(ctx, _args, raw) {
    const { provider, loaded, id } = await openProvider(ctx, raw);
    const requests = raw.requests === undefined ? 30 : Number(raw.requests);
    if (!Number.isInteger(requests) || requests < 5 || requests > 10000) throw new MlserveError('USAGE', `--requests ${String(raw.requests)}: expected a whole number from 5 to 10000`, { hint: '--requests 30' });
    const body = typeof raw.data === 'string' ? raw.data : await readFile(join(loaded.dir, SAMPLE_FILE), 'utf8').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') throw new MlserveError('USAGE', `tune needs a request: --data '<json>' or ${SAMPLE_FILE} beside the config`, { hint: `--data '{"instances": [[1, 2, 3, 4]]}'` });
      throw error;
    });
    const { tuneModel } = await import('../../core/actions/tune.js');
    const result = await tuneModel(provider, {
      sizes: listOf(raw.sizes, '--sizes', DEFAULT_SIZES), requests, p99Target: millis(raw.p99, loaded.config.monitoring.p99), arch: loaded.config.runtime.arch, reporter: ctx.reporter,
      request: { method: 'POST', path: `/v1/models/${loaded.config.name}:predict`, body },
    });
    const lines = [table(result), `CPU: memory / 1,769 MB vCPU, held by ${result.rows[0]?.method.split(',')[0] ?? '-'}; cost at Lambda's list prices (no free tier)`];
    if (!result.choice) lines.push(`no size meets p99 ≤ ${result.p99Target} ms: try larger sizes (--sizes), or a faster model`);
    else lines.push(`choice: ${result.choice.memoryMb} MB (p99 ${cell(result.choice.p99)} ms ≤ ${result.p99Target} ms, $${cell(result.choice.costPerMillion, 2)} per million requests)`);
    if (raw.apply === true && result.choice) lines.push(`wrote ${await applyMemory(loaded.file, loaded.stage, result.choice.memoryMb)}: ${result.choice.memoryMb} in ${loaded.file}`);
    if (raw.apply === true && !result.choice) throw new MlserveError('TUNE_NO_FIT', `no size meets p99 ≤ ${result.p99Target} ms: nothing written`, { hint: 'try larger sizes (--sizes) or a looser --p99' });
    return { data: { provider: id, ...result }, text: lines.join('\n') };
  },
};
