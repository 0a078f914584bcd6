import type { Config, ProviderId } from '../core/config/schema.js';

/** What the bundle must run on: never the host, except for the local provider. */
export interface Target {
  provider: ProviderId;
  python: string;
  /** Config spelling: x86_64 | arm64. */
  arch: Config['runtime']['arch'];
  /** The runtime's OS image, for messages. */
  os: string;
  /** glibc of that image: the newest manylinux wheel it loads. */
  glibc: [number, number] | undefined;
  /** pip --platform tags, newest first; empty means "this machine" (local provider). */
  platforms: string[];
}

/**
 * Lambda: python3.9–3.11 run on Amazon Linux 2 (glibc 2.26), python3.12+ on Amazon Linux 2023
 * (glibc 2.34). Azure Functions Linux images: Debian 11 (glibc 2.31) up to 3.11, Debian 12 (2.36) after.
 */
export function targetFor(provider: ProviderId, config: Config, localPython?: string): Target {
  const { python, arch } = config.runtime;
  if (provider === 'local') {
    return { provider, python: localPython ?? python, arch: hostArch(), os: `this machine (${process.platform})`, glibc: undefined, platforms: [] };
  }
  const minor = Number(python.split('.')[1]);
  const [os, glibc]: [string, [number, number]] =
    provider === 'aws'
      ? minor >= 12 ? ['Amazon Linux 2023', [2, 34]] : ['Amazon Linux 2', [2, 26]]
      : minor >= 12 ? ['Debian 12', [2, 36]] : ['Debian 11', [2, 31]];
  return { provider, python, arch, os, glibc, platforms: manylinuxTags(glibc, arch) };
}

/** manylinux tags a runtime with this glibc loads, newest first (PEP 600 plus the legacy aliases). */
export function manylinuxTags(glibc: [number, number], arch: Target['arch']): string[] {
  const machine = arch === 'arm64' ? 'aarch64' : 'x86_64';
  const tags: string[] = [];
  for (let minor = glibc[1]; minor >= 17; minor--) tags.push(`manylinux_2_${minor}_${machine}`);
  tags.push(`manylinux2014_${machine}`);
  if (machine === 'x86_64') tags.push('manylinux2010_x86_64', 'manylinux1_x86_64');
  return tags;
}

export function hostArch(): Target['arch'] {
  return process.arch === 'arm64' ? 'arm64' : 'x86_64';
}

/** ELF e_machine values of the two architectures. */
export const ELF_MACHINE: Record<Target['arch'], number> = { x86_64: 0x3e, arm64: 0xb7 };

export function describeTarget(t: Target): string {
  return t.provider === 'local' ? `local Python ${t.python}` : `${t.provider} python${t.python} ${t.arch} (${t.os}${t.glibc ? `, glibc ${t.glibc.join('.')}` : ''})`;
}
