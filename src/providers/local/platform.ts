import { hostArch } from '../../packaging/target.js';
import type { Platform } from '../platform.js';

/** This machine: the bundle is built for the local Python and runs in local worker processes. */
export const localPlatform: Platform = {
  id: 'local',
  title: 'the local provider',
  target: (_config, hostPython) => ({
    provider: 'local',
    python: hostPython,
    arch: hostArch(),
    os: `this machine (${process.platform})`,
    glibc: undefined,
    platforms: [],
    description: `local Python ${hostPython}`,
    entryFiles: ['mlserve_handler.py'],
    provided: [],
    runtimes: [],
  }),
  limits: [],
  // The local server enforces Lambda's synchronous payload limit, so what works here works there.
  maxPayloadBytes: 6 * 1024 * 1024,
  artifactStore: { kind: 'local', name: 'the local store', remote: false },
  packageTypes: ['zip'],
  exportFormats: [],
  uploadRoute: () => ({ id: 'none', description: 'local store (nothing is uploaded)' }),
  flags: [{ flags: '--target <provider>', description: 'local provider: run the exact bundle of that provider (e.g. aws) when this machine can' }],
  init: { fields: [], configSection: () => [] },
  doctor: async ({ config, hostPython }) => {
    const target = config?.runtime.python;
    if (!target || !hostPython || hostPython.startsWith(`${target}.`)) return [];
    return [{ name: 'local runtime', provider: 'local', status: 'warn', detail: `the local provider runs on Python ${hostPython}; the config targets ${target}` }];
  },
};
