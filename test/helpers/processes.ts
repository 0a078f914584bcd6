import { readdirSync, readlinkSync } from 'node:fs';

/** PIDs of live processes whose working directory is inside `dir` (the workers of a store). */
export function processesIn(dir: string): number[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return readlinkSync(`/proc/${p}/cwd`).startsWith(dir);
      } catch {
        return false;
      }
    })
    .map(Number);
}
