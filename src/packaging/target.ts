import type { Config, ProviderId } from '../core/config/schema.js';

/** A Python runtime image of a platform: its Python, OS and glibc (the newest manylinux it loads). */
export interface RuntimeImage {
  python: string;
  os: string;
  glibc: [number, number];
}

/** What the bundle must run on: never the host, except for the local provider. Built by a platform. */
export interface Target {
  provider: ProviderId;
  python: string;
  /** Config spelling: x86_64 | arm64. */
  arch: Config['runtime']['arch'];
  /** The runtime's OS image, for messages. */
  os: string;
  /** glibc of that image: the newest manylinux wheel it loads; undefined for this machine. */
  glibc: [number, number] | undefined;
  /** pip --platform tags, newest first; empty means "this machine" (local provider). */
  platforms: string[];
  /** One line for messages, e.g. "aws python3.11 x86_64 (Amazon Linux 2, glibc 2.26)". */
  description: string;
  /** Handler entry files (in templates/python) this platform starts. */
  entryFiles: string[];
  /** Packages the runtime already provides: left out of the bundle unless the user pins them. */
  provided: string[];
  /** Every Python runtime of the platform, for "what would work" hints. */
  runtimes: RuntimeImage[];
}

/** A target for one of a platform's runtime images (the shared shape of aws and azure targets). */
export function imageTarget(
  provider: ProviderId,
  title: string,
  config: Config,
  runtimes: RuntimeImage[],
  extra: Pick<Target, 'entryFiles' | 'provided'>,
): Target {
  const { python, arch } = config.runtime;
  const image = runtimes.find((r) => r.python === python) ?? runtimes[runtimes.length - 1]!;
  return {
    provider,
    python,
    arch,
    os: image.os,
    glibc: image.glibc,
    platforms: manylinuxTags(image.glibc, arch),
    description: `${title} python${python} ${arch} (${image.os}, glibc ${image.glibc.join('.')})`,
    runtimes,
    ...extra,
  };
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
