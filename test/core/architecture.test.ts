import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const src = join(import.meta.dirname, '../../src');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : path.endsWith('.ts') ? [path] : [];
  });
}

const staticImports = (text: string) => [...text.matchAll(/^import\s+(?!type\b)[^;]*?from\s+'([^']+)'/gm)].map((m) => m[1]!);

describe('module boundaries', () => {
  it('only src/providers/<id>/ imports a cloud SDK statically, so other commands never load one', () => {
    const offenders = files(src)
      .filter((f) => !relative(src, f).startsWith('providers/aws/') && !relative(src, f).startsWith('providers/azure/'))
      .filter((f) => staticImports(readFileSync(f, 'utf8')).some((m) => m.startsWith('@aws-sdk/') || m.startsWith('@azure/')))
      .map((f) => relative(src, f));
    expect(offenders).toEqual([]);
  });

  it('core and packaging never print: they report through the Reporter', () => {
    const offenders = files(src)
      .filter((f) => /^(core|packaging|providers)\//.test(relative(src, f)))
      .filter((f) => /\b(console\.(log|error|warn)|process\.(stdout|stderr)\.write)\b/.test(readFileSync(f, 'utf8')))
      .map((f) => relative(src, f));
    expect(offenders).toEqual([]);
  });

  it('the command registry loads no packaging, provider or SDK code up front', () => {
    const registry = join(src, 'cli/commands');
    const heavy = files(registry).flatMap((f) => staticImports(readFileSync(f, 'utf8')).filter((m) => /(^archiver$|^execa$|^yauzl$|packaging\/(bundle|vendor|detect)|core\/actions\/(package|doctor)|providers\/(local|aws)\/)/.test(m)).map((m) => `${relative(src, f)} → ${m}`));
    expect(heavy).toEqual([]);
  });
});
