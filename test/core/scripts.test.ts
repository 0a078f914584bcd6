import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '../..');

describe('package.json scripts', () => {
  it('every `node <file>` a script runs exists (npm run test:python once pointed at nothing)', () => {
    const scripts = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
    const missing = Object.entries(scripts).flatMap(([name, command]) =>
      [...command.matchAll(/\bnode\s+(\S+\.m?js)/g)].map((m) => m[1]!).filter((file) => !existsSync(join(root, file))).map((file) => `${name}: ${file}`),
    );
    expect(Object.keys(scripts)).toEqual(expect.arrayContaining(['test', 'test:python', 'demo', 'bench']));
    expect(missing).toEqual([]);
  });
});
