import { describe, expect, it } from 'vitest';
import { azureStatus, FLEX_PRICES } from '../../src/providers/azure/status.js';
import type { BlobVersion } from '../../src/providers/azure/versions.js';

const SHA = { a: 'a'.repeat(64), b: 'b'.repeat(64), gone: 'c'.repeat(64) };
const version = (n: string, model: string): BlobVersion => ({ version: n, created: '2026-12-01T00:00:00.000Z', bundleSha256: n.repeat(64).slice(0, 64), modelSha256: model, key: `iris/dev/packages/${n}.zip` });
const t0 = Date.parse('2026-12-02T10:00:00.000Z');
const range = { since: t0, until: t0 + 10 * 60_000 };
const trace = (minute: number, fields: Record<string, unknown>) => ({ time: new Date(t0 + minute * 60_000).toISOString(), message: JSON.stringify({ event: 'request', cold_start: false, ...fields }), role: 'site' });

describe('mlserve status on Azure, from the handler’s request records', () => {
  it('counts each record under the version whose model it ran: errors, cold starts, percentiles and Flex cost; skips other lines', () => {
    const rows = [
      trace(1, { status: 200, latency_ms: 10, cold_start: true, model: { sha256: SHA.a } }),
      trace(2, { status: 500, latency_ms: 30, model: { sha256: SHA.a } }),
      ...[5, 15, 25, 35].map((ms, i) => trace(3 + i, { status: i === 0 ? 503 : 200, latency_ms: ms, model: { sha256: SHA.b } })),
      trace(4, { status: 200, latency_ms: 7, model: { sha256: SHA.gone } }),
      { time: new Date(t0 + 60_000).toISOString(), message: 'Executing function serve', role: 'site' },
      trace(1, { event: 'init', status: 200, latency_ms: 1 }),
      trace(-5, { status: 200, latency_ms: 999, model: { sha256: SHA.b } }), // before --since
    ];
    const report = azureStatus(rows, { versions: [version('1', SHA.a), version('2', SHA.b)], alias: { version: '2', history: ['1'] }, memoryMb: 2048 }, range);
    expect(report.rows.map((r) => [r.version, r.weight, r.invocations, r.errors, r.coldStarts, r.p50, r.p99])).toEqual([
      ['1', 0, 2, 1, 1, 10, 30],
      ['2', 1, 4, 1, 0, 15, 35],
      [`model ${'c'.repeat(12)}`, 0, 1, 0, 0, 7, 7],
    ]);
    const v2 = report.rows[1]!;
    expect(v2.errorRate).toBe(0.25);
    expect(v2.averageMs).toBe(20);
    expect(v2.costUsd).toBeCloseTo((4 / 1e6) * FLEX_PRICES.perMillionExecutions + 4 * 0.02 * 2 * FLEX_PRICES.perGbSecond, 15);
    expect(v2.throttles).toBeNull();
    // Ten one-minute buckets; minute 3 holds one request of 5 ms.
    expect(report.series).toHaveLength(10);
    expect(report.series[3]).toEqual({ time: new Date(t0 + 3 * 60_000).toISOString(), requests: 1, p99: 5 });
    expect(report.series.reduce((n, b) => n + b.requests, 0)).toBe(7);
    expect(report.notes.join('\n')).toContain(FLEX_PRICES.source);
  });

  it('versions that share a model are counted under the one the stage runs, and says so; the stage’s version shows with no traffic', () => {
    const rows = [trace(1, { status: 200, latency_ms: 12, model: { sha256: SHA.a } })];
    const versions = [version('1', SHA.a), version('2', SHA.a), version('3', SHA.b)];
    const onTwo = azureStatus(rows, { versions, alias: { version: '2', history: ['1'] }, memoryMb: 2048 }, range);
    expect(onTwo.rows.map((r) => [r.version, r.invocations])).toEqual([['2', 1]]);
    expect(onTwo.notes).toContain('versions 1, 2 run the same model, so their requests cannot be told apart: all are counted under 2');
    // The stage moved on to 3: the shared model's requests go to the newest of 1 and 2 that ran; 3 is listed with none.
    const onThree = azureStatus(rows, { versions, alias: { version: '3', history: ['1', '2'] }, memoryMb: 4096 }, range);
    expect(onThree.rows.map((r) => [r.version, r.weight, r.invocations, r.p50])).toEqual([['2', 0, 1, 12], ['3', 1, 0, null]]);
  });
});
