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
  if (walk.protocol !== undefined) info.protocol = walk.protocol;
  if (compression) info.compression = compression;
  return info;
}

type Value = string | number | typeof MARK | { global: string } | { obj: string | undefined };
const MARK = Symbol('mark');

interface Walk {
  globals: string[];
  sklearnVersion?: string;
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
  const stack: Value[] = [];
  const memo = new Map<number, Value>();
  const result: Walk = { globals: [], offset: 0, stoppedEarly: false };
  let pos = 0;
  const obj = (): Value => ({ obj: undefined });
  const popMark = (): Value[] => {
    const i = stack.lastIndexOf(MARK);
    if (i < 0) throw new PickleFormatError('mark not found');
    return stack.splice(i).slice(1);
  };
  const pop = (n: number): Value[] => {
    if (stack.length < n) throw new PickleFormatError('stack underflow');
    return stack.splice(stack.length - n, n);
  };
  const line = (): string => {
    const end = data.indexOf(0x0a, pos);
    if (end < 0) throw new PickleFormatError('unterminated line');
    const s = data.toString('latin1', pos, end);
    pos = end + 1;
    return s;
  };
  const addGlobal = (name: string): Value => {
    if (!result.globals.includes(name)) result.globals.push(name);
    return { global: name };
  };
  const noteItems = (items: Value[]) => {
    for (let i = 0; i + 1 < items.length; i += 2) {
      if (items[i] === '_sklearn_version' && typeof items[i + 1] === 'string') result.sklearnVersion ??= items[i + 1] as string;
    }
  };

  try {
    while (pos < data.length) {
      const op = data[pos++]!;
      if (op in FIXED) {
        const n = FIXED[op]!;
        if (pos + n > data.length) throw new PickleFormatError('truncated');
        const arg = n === 8 ? 0 : data.readUIntLE(pos, n);
        pos += n;
        if (op === 0x80) result.protocol = arg;
        else if (op === 0x68 || op === 0x6a) stack.push(memo.get(arg) ?? obj());
        else if (op === 0x71 || op === 0x72) memo.set(arg, stack[stack.length - 1] ?? obj());
        else if (op === 0x4a || op === 0x4b || op === 0x4d || op === 0x47) stack.push(arg);
        else if (op !== 0x95) stack.push(obj()); // EXT1/2/4
        continue;
      }
      if (op in COUNTED) {
        const n = COUNTED[op]!;
        const len = Number(n === 8 ? data.readBigUInt64LE(pos) : data.readUIntLE(pos, n));
        pos += n;
        if (pos + len > data.length) throw new PickleFormatError('truncated');
        const isText = op === 0x58 || op === 0x8c || op === 0x8d || op === 0x54 || op === 0x55;
        stack.push(isText ? data.toString(op === 0x54 || op === 0x55 ? 'latin1' : 'utf8', pos, pos + len) : obj());
        pos += len;
        continue;
      }
      switch (String.fromCharCode(op)) {
        case '(': stack.push(MARK); break;
        case '.': result.offset = pos; return result;
        case '0': pop(1); break;
        case '1': popMark(); break;
        case '2': stack.push(stack[stack.length - 1] ?? obj()); break;
        case 'N': case '\x88': case '\x89': case '}': case ']': case ')': case '\x8f': case 'P': stack.push(obj()); if (op === 0x50) line(); break;
        case 'I': case 'L': case 'F': line(); stack.push(0); break;
        case 'S': case 'V': stack.push(line()); break;
        case 'c': stack.push(addGlobal(`${line()}.${line()}`)); break;
        case 'i': addGlobal(`${line()}.${line()}`); popMark(); stack.push(obj()); break;
        case 'p': memo.set(Number(line()), stack[stack.length - 1] ?? obj()); break;
        case 'g': stack.push(memo.get(Number(line())) ?? obj()); break;
        case '\x94': memo.set(memo.size, stack[stack.length - 1] ?? obj()); break;
        case '\x93': {
          const [module, name] = pop(2);
          stack.push(typeof module === 'string' && typeof name === 'string' ? addGlobal(`${module}.${name}`) : obj());
          break;
        }
        case 't': case 'l': case 'd': case '\x91': popMark(); stack.push(obj()); break;
        case 'o': popMark(); stack.push(obj()); break;
        case '\x85': pop(1); stack.push(obj()); break;
        case '\x86': pop(2); stack.push(obj()); break;
        case '\x87': pop(3); stack.push(obj()); break;
        case 'a': pop(1); break;
        case 'e': case '\x90': popMark(); break;
        case 's': noteItems(pop(2)); break;
        case 'u': noteItems(popMark()); break;
        case 'R': case '\x81': {
          const [callable] = pop(2);
          stack.push({ obj: typeof callable === 'object' && 'global' in callable ? callable.global : undefined });
          break;
        }
        case '\x92': pop(3); stack.push(obj()); break;
        case 'Q': pop(1); stack.push(obj()); break;
        case '\x97': stack.push(obj()); break;
        case '\x98': break;
        case 'b': {
          pop(1);
          const target = stack[stack.length - 1];
          // joblib writes the array's raw bytes right after a NumpyArrayWrapper is built.
          if (typeof target === 'object' && 'obj' in target && target.obj?.endsWith('NumpyArrayWrapper')) {
            result.offset = pos;
            result.stoppedEarly = true;
            return result;
          }
          break;
        }
        default:
          throw new PickleFormatError(`unknown opcode 0x${op.toString(16)} at byte ${pos - 1}`);
      }
    }
  } catch (error) {
    if (!(error instanceof PickleFormatError) && !(error instanceof RangeError)) throw error;
    if (result.globals.length === 0) throw new PickleFormatError(`not a readable pickle (${(error as Error).message})`);
  }
  result.offset = pos;
  result.stoppedEarly = true;
  return result;
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
