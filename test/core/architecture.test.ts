import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const src = join(import.meta.dirname, '../../src');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : path.endsWith('.ts') ? [path] : [];
  });
}

const rel = (f: string) => relative(src, f);
const staticImports = (text: string) => [...text.matchAll(/^import\s+(?!type\b)[^;]*?from\s+'([^']+)'/gm)].map((m) => m[1]!);
const dynamicImports = (text: string) => [...text.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g)].map((m) => m[1]!);
const allImports = (text: string) => [...staticImports(text), ...dynamicImports(text)];

/** A relative import as the .ts file it names. */
const resolveImport = (from: string, spec: string) => resolve(dirname(from), spec).replace(/\.js$/, '.ts');

describe('module boundaries', () => {
  it('only src/providers/<id>/ imports a cloud SDK, statically or dynamically', () => {
    const offenders = files(src)
      .filter((f) => !/^providers\/(aws|azure)\//.test(rel(f)))
      .flatMap((f) => allImports(readFileSync(f, 'utf8')).filter((m) => m.startsWith('@aws-sdk/') || m.startsWith('@azure/') || m.startsWith('@smithy/')).map((m) => `${rel(f)} → ${m}`));
    expect(offenders).toEqual([]);
  });

  it('no code outside src/providers/ branches on a provider id (the config schema’s list of ids aside)', () => {
    // A comparison, a case label, a default or an index with a provider id literal (type unions are fine).
    const ids = /(===?|!==?)\s*'(local|aws|azure)'|'(local|aws|azure)'\s*(===?|!==?)|case\s+'(local|aws|azure)'|\?\?\s*'(local|aws|azure)'|\[\s*'(local|aws|azure)'\s*\]/;
    const offenders = files(src)
      .filter((f) => !rel(f).startsWith('providers/') && rel(f) !== 'core/config/schema.ts')
      .flatMap((f) => readFileSync(f, 'utf8').split('\n').map((line, i) => [line, i] as const).filter(([line]) => ids.test(line)).map(([line, i]) => `${rel(f)}:${i + 1}: ${line.trim()}`));
    expect(offenders).toEqual([]);
  });

  it('outside a provider’s own folder, nothing imports another provider’s folder but through the registry', () => {
    const offenders = files(src)
      .filter((f) => !rel(f).startsWith('providers/'))
      .flatMap((f) => allImports(readFileSync(f, 'utf8')).filter((m) => /providers\/(local|aws|azure)\//.test(m)).map((m) => `${rel(f)} → ${m}`));
    expect(offenders).toEqual([]);
  });

  it('core and packaging never print: they report through the Reporter', () => {
    const offenders = files(src)
      .filter((f) => /^(core|packaging|providers)\//.test(rel(f)))
      .filter((f) => /\b(console\.(log|error|warn)|process\.(stdout|stderr)\.write)\b/.test(readFileSync(f, 'utf8')))
      .map(rel);
    expect(offenders).toEqual([]);
  });

  it('--help and --version load nothing heavy: the static import graph from the CLI has no SDK, zip, process, YAML or validation library', () => {
    const seen = new Set<string>();
    const heavy: string[] = [];
    const walk = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      for (const spec of staticImports(readFileSync(file, 'utf8'))) {
        if (spec.startsWith('.')) walk(resolveImport(file, spec));
        else if (/^(@aws-sdk|@azure|@smithy|archiver|execa|yauzl|ora|@inquirer|proper-lockfile|zod|yaml)$|^(@aws-sdk|@azure|@smithy|@inquirer)\//.test(spec)) heavy.push(`${rel(file)} → ${spec}`);
      }
    };
    walk(join(src, 'cli/main.ts'));
    expect(heavy).toEqual([]);
    // Each command's module loads only when that command runs (or `help <command>` shows it).
    const loaded = [...seen].map(rel).filter((f) => /^(cli\/commands\/(?!index\.ts)|providers\/|packaging\/|core\/(?!errors\.ts))/.test(f));
    expect(loaded).toEqual([]);
  });

  it('no function in src/ is over 60 lines', () => {
    const long: string[] = [];
    for (const file of files(src)) {
      const text = readFileSync(file, 'utf8');
      const sourceFile = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
      const visit = (node: ts.Node) => {
        if (ts.isFunctionDeclaration(node) || ts.isMethodDeclaration(node) || ts.isArrowFunction(node) || ts.isFunctionExpression(node)) {
          const start = sourceFile.getLineAndCharacterOfPosition(node.getStart()).line;
          const end = sourceFile.getLineAndCharacterOfPosition(node.getEnd()).line;
          if (end - start + 1 > 60) long.push(`${rel(file)}:${start + 1} (${end - start + 1} lines)`);
        }
        ts.forEachChild(node, visit);
      };
      visit(sourceFile);
    }
    expect(long).toEqual([]);
  });
});
