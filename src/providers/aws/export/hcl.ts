/**
 * A small HCL writer whose output is already what `terraform fmt` prints: two-space indents, the
 * `=` of consecutive one-line attributes aligned, multi-line values left unaligned. Written by
 * hand: no npm library writes HCL (the maintained ones parse it).
 */

/** A raw expression (a reference, a function call's text): written as is. */
export class Expr {
  constructor(readonly text: string) {}
}

/** `name(arg)`, with the argument written (possibly over several lines). */
export class Call {
  constructor(
    readonly name: string,
    readonly arg: Value,
  ) {}
}

export type Value = string | number | boolean | Expr | Call | Value[] | { [k: string]: Value };

export interface Block {
  type: string;
  labels: string[];
  body: Entry[];
  /** Comment lines written above the block. */
  comment?: string[];
}

export type Entry = { key: string; value: Value } | Block;

/** How a string value is written: quoted and escaped, with the caller's placeholders made interpolations. */
export type StringWriter = (s: string) => string;

const IDENT = /^[A-Za-z_][A-Za-z0-9_-]*$/;

function isBlock(e: Entry): e is Block {
  return 'type' in e;
}

function write(value: Value, indent: string, str: StringWriter): string {
  if (typeof value === 'string') return str(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value instanceof Expr) return value.text;
  if (value instanceof Call) return `${value.name}(${write(value.arg, indent, str)})`;
  if (Array.isArray(value)) {
    const items = value.map((v) => write(v, `${indent}  `, str));
    if (items.every((i) => !i.includes('\n')) && items.join(', ').length < 80) return `[${items.join(', ')}]`;
    return `[\n${items.map((i) => `${indent}  ${i},`).join('\n')}\n${indent}]`;
  }
  const entries = Object.entries(value);
  if (entries.length === 0) return '{}';
  return `{\n${lines(entries.map(([k, v]) => ({ key: IDENT.test(k) ? k : quote(k), value: v })), `${indent}  `, str)}\n${indent}}`;
}

/** Attributes and blocks at one indent: runs of one-line attributes get their `=` aligned. */
function lines(entries: Entry[], indent: string, str: StringWriter): string {
  const out: string[] = [];
  let run: { key: string; text: string }[] = [];
  const flush = () => {
    const width = Math.max(0, ...run.map((r) => r.key.length));
    out.push(...run.map((r) => `${indent}${r.key.padEnd(width)} = ${r.text}`));
    run = [];
  };
  for (const e of entries) {
    if (isBlock(e)) {
      flush();
      out.push(block(e, indent, str));
      continue;
    }
    const text = write(e.value, indent, str);
    if (text.includes('\n')) {
      flush();
      out.push(`${indent}${e.key} = ${text}`);
    } else run.push({ key: e.key, text });
  }
  flush();
  return out.join('\n');
}

function block(b: Block, indent: string, str: StringWriter): string {
  const head = [b.type, ...b.labels.map((l) => JSON.stringify(l))].join(' ');
  const comment = (b.comment ?? []).map((c) => `${indent}# ${c}`.trimEnd());
  const body = b.body.length ? ` {\n${lines(b.body, `${indent}  `, str)}\n${indent}}` : ' {}';
  return [...comment, `${indent}${head}${body}`].join('\n');
}

/** Top-level blocks, a blank line between each, and a trailing newline. */
export function hclFile(blocks: Block[], str: StringWriter, header: string[] = []): string {
  const head = header.map((h) => `# ${h}`.trimEnd());
  return `${[...(head.length ? [head.join('\n')] : []), ...blocks.map((b) => block(b, '', str))].join('\n\n')}\n`;
}

/** A quoted HCL string: JSON's escapes, and `${` / `%{` doubled so they stay literal. */
export function quote(s: string): string {
  // Replacer functions: in a replacement string, `$$` would mean one `$`.
  return JSON.stringify(s).replaceAll('${', () => '$${').replaceAll('%{', () => '%%{');
}
