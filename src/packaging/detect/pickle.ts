import { open } from 'node:fs/promises';
import { gunzipSync, inflateSync } from 'node:zlib';

/**
 * Read what a pickle (or joblib file) references without unpickling it: unpickling runs arbitrary
 * code, so detection walks the opcode stream instead, the way `pickletools.dis` does, tracking just
 * enough of the stack to resolve STACK_GLOBAL names and `_sklearn_version` entries.
 */
export interface PickleInfo {
  /** `module.name` of every class or function the pickle would import, in first-seen order. */
  globals: string[];
  /** Top-level packages of those globals (`sklearn`, `numpy`, …). */
  packages: string[];
  /** scikit-learn version recorded by BaseEstimator.__getstate__, if any. */
  sklearnVersion?: string;
  /** The first estimator's `n_features_in_` (its input width), when the walk reaches it. */
  nFeatures?: number;
  protocol?: number;
  compression?: 'zlib' | 'gzip';
}

export class PickleFormatError extends Error {}

const HEAD_BYTES = 64 * 1024 * 1024;
const TAIL_BYTES = 1024 * 1024;

/** Inspect a pickle/joblib file on disk. Reads at most the first 64 MB and the last 1 MB. */
export async function inspectPickleFile(path: string): Promise<PickleInfo> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    const head = Buffer.alloc(Math.min(size, HEAD_BYTES));
    await handle.read(head, 0, head.length, 0);
    let tail: Buffer | undefined;
    if (size > HEAD_BYTES) {
      tail = Buffer.alloc(TAIL_BYTES);
      await handle.read(tail, 0, TAIL_BYTES, size - TAIL_BYTES);
    }
    return inspectPickle(head, tail);
  } finally {
    await handle.close();
  }
}

const COMPRESSED_MAGIC: [string, number[]][] = [
  ['xz', [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]],
  ['bz2', [0x42, 0x5a, 0x68]],
  ['lz4', [0x04, 0x22, 0x4d, 0x18]],
];

/** Inspect pickle bytes (`tail`, if given, is the end of a file too large to read whole). */
export function inspectPickle(data: Buffer, tail?: Buffer): PickleInfo {
  let compression: PickleInfo['compression'];
  if (data[0] === 0x1f && data[1] === 0x8b) {
    data = gunzipSync(data);
    compression = 'gzip';
  } else if (data[0] === 0x78 && [0x01, 0x5e, 0x9c, 0xda].includes(data[1] ?? -1)) {
    data = inflateSync(data);
    compression = 'zlib';
  } else {
    for (const [name, magic] of COMPRESSED_MAGIC) {
      if (magic.every((b, i) => data[i] === b)) {
        throw new PickleFormatError(`compressed with ${name}, which mlserve cannot inspect`);
      }
    }
  }
  if (data[0] !== 0x80 && !'(cl}]'.includes(String.fromCharCode(data[0] ?? 0))) {
    throw new PickleFormatError('not a pickle: it does not start with a pickle opcode');
  }
  const walk = walkOpcodes(data);
  const globals = new Set(walk.globals);
  let version = walk.sklearnVersion;
  // After joblib's first inline array the opcode stream is interrupted by raw array bytes; scan
  // the rest (and the tail of a large file) for the two things detection needs.
  if (walk.stoppedEarly || tail) {
    for (const chunk of [data.subarray(walk.offset), tail].filter((c): c is Buffer => !!c)) {
      const found = scanBytes(chunk);
      found.globals.forEach((g) => globals.add(g));
      version ??= found.sklearnVersion;
    }
  }
  const list = [...globals];
  const info: PickleInfo = { globals: list, packages: [...new Set(list.map((g) => g.split('.')[0]!))] };
  if (version) info.sklearnVersion = version;
  if (walk.nFeatures !== undefined) info.nFeatures = walk.nFeatures;
  if (walk.protocol !== undefined) info.protocol = walk.protocol;
  if (compression) info.compression = compression;
  return info;
}

type Value = string | number | typeof MARK | { global: string } | { obj: string | undefined };
const MARK = Symbol('mark');

interface Walk {
  globals: string[];
  sklearnVersion?: string;
  nFeatures?: number;
  protocol?: number;
  offset: number;
  stoppedEarly: boolean;
}

/** Opcodes whose argument is a fixed number of bytes. */
const FIXED: Record<number, number> = {
  0x4a: 4, 0x4b: 1, 0x4d: 2, 0x47: 8, 0x68: 1, 0x6a: 4, 0x71: 1, 0x72: 4,
  0x80: 1, 0x82: 1, 0x83: 2, 0x84: 4, 0x95: 8,
};
/** Opcodes whose argument is a length prefix of n bytes, then that many bytes. */
const COUNTED: Record<number, number> = {
  0x54: 4, 0x55: 1, 0x58: 4, 0x42: 4, 0x43: 1, 0x8a: 1, 0x8b: 4, 0x8c: 1, 0x8d: 8, 0x8e: 8, 0x96: 8,
};

function walkOpcodes(data: Buffer): Walk {
  return new OpcodeWalker(data).run();
}

/**
 * The opcode walk, as a small machine: `stack` and `memo` track just enough (strings, globals, the
 * callables objects were built from) to resolve STACK_GLOBAL names and `_sklearn_version` entries.
 */
class OpcodeWalker {
  private readonly stack: Value[] = [];
  private readonly memo = new Map<number, Value>();
  private readonly result: Walk = { globals: [], offset: 0, stoppedEarly: false };
  private pos = 0;

  constructor(private readonly data: Buffer) {}

  run(): Walk {
    try {
      while (this.pos < this.data.length) {
        const op = this.data[this.pos++]!;
        if (op in FIXED) this.fixed(op);
        else if (op in COUNTED) this.counted(op);
        else if (this.structural(op) === 'stop') return this.result;
      }
    } catch (error) {
      if (!(error instanceof PickleFormatError) && !(error instanceof RangeError)) throw error;
      if (this.result.globals.length === 0) throw new PickleFormatError(`not a readable pickle (${(error as Error).message})`);
    }
    this.result.offset = this.pos;
    this.result.stoppedEarly = true;
    return this.result;
  }

  private obj(): Value {
    return { obj: undefined };
  }

  private top(): Value {
    return this.stack[this.stack.length - 1] ?? this.obj();
  }

  private popMark(): Value[] {
    const i = this.stack.lastIndexOf(MARK);
    if (i < 0) throw new PickleFormatError('mark not found');
    return this.stack.splice(i).slice(1);
  }

  private pop(n: number): Value[] {
    if (this.stack.length < n) throw new PickleFormatError('stack underflow');
    return this.stack.splice(this.stack.length - n, n);
  }

  private line(): string {
    const end = this.data.indexOf(0x0a, this.pos);
    if (end < 0) throw new PickleFormatError('unterminated line');
    const s = this.data.toString('latin1', this.pos, end);
    this.pos = end + 1;
    return s;
  }

  private addGlobal(name: string): Value {
    if (!this.result.globals.includes(name)) this.result.globals.push(name);
    return { global: name };
  }

  private noteItems(items: Value[]): void {
    for (let i = 0; i + 1 < items.length; i += 2) {
      if (items[i] === '_sklearn_version' && typeof items[i + 1] === 'string') this.result.sklearnVersion ??= items[i + 1] as string;
      if (items[i] === 'n_features_in_' && typeof items[i + 1] === 'number') this.result.nFeatures ??= items[i + 1] as number;
    }
  }

  /** Opcodes with a fixed-size argument: ints, memo indices, the protocol, frames, extensions. */
  private fixed(op: number): void {
    const n = FIXED[op]!;
    if (this.pos + n > this.data.length) throw new PickleFormatError('truncated');
    const arg = n === 8 ? 0 : this.data.readUIntLE(this.pos, n);
    this.pos += n;
    if (op === 0x80) this.result.protocol = arg;
    else if (op === 0x68 || op === 0x6a) this.stack.push(this.memo.get(arg) ?? this.obj());
    else if (op === 0x71 || op === 0x72) this.memo.set(arg, this.top());
    else if (op === 0x4a || op === 0x4b || op === 0x4d || op === 0x47) this.stack.push(arg);
    else if (op !== 0x95) this.stack.push(this.obj()); // EXT1/2/4
  }

  /** Opcodes with a length-prefixed argument: strings (kept) and bytes (skipped). */
  private counted(op: number): void {
    const n = COUNTED[op]!;
    const len = Number(n === 8 ? this.data.readBigUInt64LE(this.pos) : this.data.readUIntLE(this.pos, n));
    this.pos += n;
    if (this.pos + len > this.data.length) throw new PickleFormatError('truncated');
    const isText = op === 0x58 || op === 0x8c || op === 0x8d || op === 0x54 || op === 0x55;
    this.stack.push(isText ? this.data.toString(op === 0x54 || op === 0x55 ? 'latin1' : 'utf8', this.pos, this.pos + len) : this.obj());
    this.pos += len;
  }

  /** Every other opcode; 'stop' at STOP or where joblib's raw array bytes begin. */
  private structural(op: number): 'stop' | undefined {
    const c = String.fromCharCode(op);
    if (c === '.') {
      this.result.offset = this.pos;
      return 'stop';
    }
    if (c === 'b') return this.build();
    if (this.values(c) || this.containers(c)) return undefined;
    throw new PickleFormatError(`unknown opcode 0x${op.toString(16)} at byte ${this.pos - 1}`);
  }

  /** Marks, constants, text-protocol values, globals and memo opcodes. */
  private values(c: string): boolean {
    switch (c) {
      case '(': this.stack.push(MARK); return true;
      case '0': this.pop(1); return true;
      case '1': this.popMark(); return true;
      case '2': this.stack.push(this.top()); return true;
      case 'N': case '\x88': case '\x89': case '}': case ']': case ')': case '\x8f': this.stack.push(this.obj()); return true;
      case 'P': this.stack.push(this.obj()); this.line(); return true;
      case 'I': case 'L': case 'F': this.line(); this.stack.push(0); return true;
      case 'S': case 'V': this.stack.push(this.line()); return true;
      case 'c': this.stack.push(this.addGlobal(`${this.line()}.${this.line()}`)); return true;
      case 'i': this.addGlobal(`${this.line()}.${this.line()}`); this.popMark(); this.stack.push(this.obj()); return true;
      case 'p': this.memo.set(Number(this.line()), this.top()); return true;
      case 'g': this.stack.push(this.memo.get(Number(this.line())) ?? this.obj()); return true;
      case '\x94': this.memo.set(this.memo.size, this.top()); return true;
      case '\x93': {
        const [module, name] = this.pop(2);
        this.stack.push(typeof module === 'string' && typeof name === 'string' ? this.addGlobal(`${module}.${name}`) : this.obj());
        return true;
      }
      default: return false;
    }
  }

  /** Tuples, lists, dicts, sets, object construction. */
  private containers(c: string): boolean {
    switch (c) {
      case 't': case 'l': case 'd': case '\x91': case 'o': this.popMark(); this.stack.push(this.obj()); return true;
      case '\x85': this.pop(1); this.stack.push(this.obj()); return true;
      case '\x86': this.pop(2); this.stack.push(this.obj()); return true;
      case '\x87': this.pop(3); this.stack.push(this.obj()); return true;
      case 'a': this.pop(1); return true;
      case 'e': case '\x90': this.popMark(); return true;
      case 's': this.noteItems(this.pop(2)); return true;
      case 'u': this.noteItems(this.popMark()); return true;
      case 'R': case '\x81': {
        const [callable] = this.pop(2);
        this.stack.push({ obj: typeof callable === 'object' && 'global' in callable ? callable.global : undefined });
        return true;
      }
      case '\x92': this.pop(3); this.stack.push(this.obj()); return true;
      case 'Q': this.pop(1); this.stack.push(this.obj()); return true;
      case '\x97': this.stack.push(this.obj()); return true;
      case '\x98': return true;
      default: return false;
    }
  }

  /** BUILD; joblib writes an array's raw bytes right after a NumpyArrayWrapper is built. */
  private build(): 'stop' | undefined {
    this.pop(1);
    const target = this.stack[this.stack.length - 1];
    if (typeof target === 'object' && 'obj' in target && target.obj?.endsWith('NumpyArrayWrapper')) {
      this.result.offset = this.pos;
      this.result.stoppedEarly = true;
      // The estimator's state dict is still open (its SETITEMS comes after the arrays): read the
      // key/value pairs pushed since its MARK.
      this.noteItems(this.stack.slice(this.stack.lastIndexOf(MARK) + 1));
      return 'stop';
    }
    return undefined;
  }
}

const KNOWN_ROOTS = /^(sklearn|xgboost|lightgbm|catboost|torch|tensorflow|keras|numpy|scipy|joblib|pandas|__main__)(\.|$)/;

/** Fallback for bytes the opcode walk could not reach: length-prefixed names of known packages. */
function scanBytes(chunk: Buffer): { globals: string[]; sklearnVersion?: string } {
  const text = chunk.toString('latin1');
  const globals = new Set<string>();
  for (const m of text.matchAll(/\x8c([\x01-\x7f])([A-Za-z_][\w.]*)/g)) {
    const name = m[2]!.slice(0, m[1]!.charCodeAt(0));
    if (name.length === m[1]!.charCodeAt(0) && KNOWN_ROOTS.test(name) && name.includes('.')) globals.add(name);
  }
  for (const m of text.matchAll(/c([A-Za-z_][\w.]*)\n([A-Za-z_]\w*)\n/g)) {
    if (KNOWN_ROOTS.test(m[1]!)) globals.add(`${m[1]}.${m[2]}`);
  }
  const v = /_sklearn_version(?:\x94|q[\s\S]|r[\s\S]{4})?(?:\x8c([\x01-\x20])|X([\x01-\x20])\x00\x00\x00)([0-9][0-9A-Za-z.+-]*)/.exec(text);
  const out: { globals: string[]; sklearnVersion?: string } = { globals: [...globals] };
  if (v) out.sklearnVersion = v[3]!.slice(0, (v[1] ?? v[2])!.charCodeAt(0));
  return out;
}
