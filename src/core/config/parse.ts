import { LineCounter, parseDocument } from 'yaml';
import type { core } from 'zod';
import { MlserveError, type Problem } from '../errors.js';
import { interpolate } from './interpolate.js';
import { locate } from './locate.js';
import { deepMerge } from './merge.js';
import { configSchema, fileSchema, type Config } from './schema.js';

// The YAML parser and the schema: loaded only when a config must really be read (load.ts keeps
// what it read last, by the file's size, mtime and inode, and answers from it while unchanged).

/** Parse and validate config text; `file` is only used to label problems. */
export function parseConfig(
  text: string,
  options: { file: string; stage: string; env: Record<string, string | undefined> },
): { config: Config; fromEnv: string[] } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const at = (path: (string | number)[], message: string, key = false): Problem => {
    const pos = locate(doc, lines, path, { key });
    return { file: options.file, line: pos.line, col: pos.col, path: path.join('.'), message };
  };

  const syntax = syntaxProblems(doc.errors, text, lines, options.file);
  if (syntax.length > 0) throw invalid(options.file, syntax);

  const raw: unknown = doc.toJS() ?? {};
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw invalid(options.file, [at([], 'the config must be a mapping of keys (name:, model:, …)')]);
  }
  const problems: Problem[] = [];
  const { value, missing, fromEnv } = interpolate(raw, options.env);
  for (const m of missing) {
    problems.push(at(m.path, `environment variable ${m.variable} is not set (use \${env:${m.variable}, default} for a fallback)`));
  }

  // The file's own shape first (including every stage block), then the merged config for this stage.
  const fileResult = fileSchema.safeParse(value);
  const stages = (value as { stages?: Record<string, unknown> }).stages;
  const override = stages?.[options.stage];
  const base = { ...(value as Record<string, unknown>) };
  delete base.stages;
  const merged = deepMerge(base, override ?? {});
  const result = configSchema.safeParse(merged);

  // A missing variable already explains whatever the schema then says about the empty value.
  const seen = new Set<string>(missing.map((m) => m.path.join('.')));
  const add = (p: Problem) => {
    const key = `${p.line}:${p.col}:${p.message}`;
    if (!seen.has(key) && !seen.has(p.path)) {
      seen.add(key);
      problems.push(p);
    }
  };
  if (!fileResult.success) {
    for (const issue of fileResult.error.issues) if (issue.path[0] === 'stages') toProblems(issue, [], value, at).forEach(add);
  }
  if (!result.success) {
    for (const issue of result.error.issues) {
      // Point at the stage block when the offending value came from it.
      const fromStage = override !== undefined && getIn(override, issue.path as (string | number)[]) !== undefined;
      const prefix = fromStage ? ['stages', options.stage] : [];
      toProblems(issue, prefix, fromStage ? override : merged, at).forEach(add);
    }
  }
  if (problems.length > 0) throw invalid(options.file, problems.sort((a, b) => a.line - b.line || a.col - b.col));
  return { config: result.data as Config, fromEnv };
}

/** YAML syntax errors, each pointed past leading blanks at the item that is out of line. */
function syntaxProblems(errors: { pos: [number, number]; message: string; code: string }[], text: string, lines: LineCounter, file: string): Problem[] {
  return errors.map((e): Problem => {
    let offset = e.pos[0];
    while (text[offset] === ' ') offset++;
    const pos = lines.linePos(offset);
    const message = `YAML syntax: ${firstLine(e.message)}`;
    return { file, line: pos.line, col: pos.col, path: '', message: e.code === 'BAD_INDENT' ? `${message} (check the indentation)` : message };
  });
}

function toProblems(
  issue: core.$ZodIssue,
  prefix: string[],
  root: unknown,
  at: (path: (string | number)[], message: string, key?: boolean) => Problem,
): Problem[] {
  const path = [...prefix, ...(issue.path as (string | number)[])];
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((k) => at([...path, k], unknownKeyMessage(k, path), true));
    case 'invalid_key':
      return [at(path, issue.issues[0]?.message ?? issue.message, true)];
    case 'invalid_type':
      if (getIn(root, issue.path as (string | number)[]) === undefined) {
        return [at(path, `is required: ${issue.message}`)];
      }
      return [at(path, `${issue.message}, got ${describe(getIn(root, issue.path as (string | number)[]))}`)];
    case 'invalid_value':
      return [at(path, `${issue.message.replace(/^Invalid option: /, '')}, got ${describe(getIn(root, issue.path as (string | number)[]))}`)];
    default:
      return [at(path, issue.message)];
  }
}

function unknownKeyMessage(key: string, parentPath: (string | number)[]): string {
  const candidates = knownKeys(parentPath);
  const close = candidates.find((c) => editDistance(c.toLowerCase(), key.toLowerCase()) <= 2);
  const list = candidates.filter((c) => c !== '$schema').join(', ');
  return close ? `unknown key "${key}"; did you mean "${close}"?` : `unknown key "${key}"; allowed here: ${list}`;
}

function knownKeys(parentPath: (string | number)[]): string[] {
  const path = parentPath[0] === 'stages' ? parentPath.slice(2) : parentPath;
  let schema: unknown = fileSchema;
  for (const segment of path) {
    schema = unwrap(schema);
    const shape = (schema as { shape?: Record<string, unknown> }).shape;
    const element = (schema as { element?: unknown }).element;
    if (shape && typeof segment === 'string') schema = shape[segment];
    else if (element !== undefined && typeof segment === 'number') schema = element;
    else return [];
  }
  const shape = (unwrap(schema) as { shape?: Record<string, unknown> }).shape;
  return shape ? Object.keys(shape) : [];
}

function unwrap(schema: unknown): unknown {
  let s = schema as { def?: { innerType?: unknown; in?: unknown } } | undefined;
  while (s?.def?.innerType ?? s?.def?.in) s = (s.def.innerType ?? s.def.in) as typeof s;
  return s;
}

function getIn(value: unknown, path: (string | number)[]): unknown {
  let v = value;
  for (const p of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string | number, unknown>)[p];
  }
  return v;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return JSON.stringify(v);
  return String(v);
}

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
  }
  return d[a.length]![b.length]!;
}

function invalid(file: string, problems: Problem[]): MlserveError {
  const n = problems.length;
  return new MlserveError('CONFIG_INVALID', `${file} has ${n} problem${n === 1 ? '' : 's'}`, {
    problems,
    hint: 'fix each line above; `mlserve schema` prints every key with its type, and mlserve.config.example.yaml documents them',
  });
}

function firstLine(s: string): string {
  const line = s.split('\n')[0] ?? s;
  return line.replace(/ at line \d+, column \d+:?$/, '').trim();
}
