import { open } from 'node:fs/promises';
import type { Target } from './target.js';
import { ELF_MACHINE } from './target.js';

const NAMES: Record<number, string> = { 0x3e: 'x86_64', 0xb7: 'aarch64 (arm64)', 0x03: 'x86 (32-bit)', 0x28: 'arm (32-bit)', 0x15: 'ppc64', 0x16: 's390x' };

/** The ELF machine of a file, or undefined when it is not ELF. */
export async function elfMachine(path: string): Promise<number | undefined> {
  const handle = await open(path, 'r');
  try {
    const head = Buffer.alloc(20);
    const { bytesRead } = await handle.read(head, 0, 20, 0);
    if (bytesRead < 20 || head.readUInt32BE(0) !== 0x7f454c46) return undefined;
    return head[5] === 2 ? head.readUInt16BE(18) : head.readUInt16LE(18);
  } finally {
    await handle.close();
  }
}

export interface ElfMismatch {
  file: string;
  machine: string;
}

/** Every shared object among `files` whose ELF machine is not the target's. */
export async function findArchMismatches(files: { rel: string; abs: string }[], arch: Target['arch']): Promise<ElfMismatch[]> {
  const want = ELF_MACHINE[arch];
  const out: ElfMismatch[] = [];
  for (const f of files) {
    if (!/\.so(\.[\d.]+)?$/.test(f.rel)) continue;
    const machine = await elfMachine(f.abs);
    if (machine !== undefined && machine !== want) out.push({ file: f.rel, machine: NAMES[machine] ?? `machine 0x${machine.toString(16)}` });
  }
  return out;
}
