import { mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { statIfExists } from '../../core/fs.js';
import { signalUnlessGone } from './worker-pool.js';

/** Lambda gives a function CPU in proportion to its memory: one vCPU at 1,769 MB (https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html). */
export const MB_PER_VCPU = 1769;
/**
 * The CFS period. Short, so that a request shorter than one period cannot run at full speed on the
 * quota it saved while idle: a 16 ms request at 0.29 vCPU takes about 55 ms, not 16. (At 100 ms it
 * took 16 on a fast machine, and tune chose sizes too small.) Never under 1 ms of quota per period.
 */
const PERIOD_US = 10_000;
const MIN_QUOTA_US = 1000;
/** The signal fallback's period: signals cost more than the scheduler's own quota, so coarser. */
const DUTY_PERIOD_MS = 20;

export interface CpuLimit {
  /** How: a CFS quota in a cgroup (v2 or v1), or stopping and continuing the process (no cgroup). */
  method: 'cgroup v2 cpu.max' | 'cgroup v1 cfs quota' | 'SIGSTOP/SIGCONT duty cycle';
  release(): Promise<void>;
}

async function cgroup(dir: string, files: [string, string][], pid: number): Promise<() => Promise<void>> {
  await mkdir(dir);
  for (const [file, value] of files) await writeFile(`${dir}/${file}`, value);
  await writeFile(`${dir}/cgroup.procs`, String(pid));
  // The process has exited (or moved) by the time the group is removed; an empty group is deleted.
  return () => rmdir(dir);
}

/**
 * Hold `pid` to `vcpus` CPUs, as Lambda holds a function to its memory's share: a CFS quota where
 * the machine lets mlserve make a cgroup, else by stopping the process for the rest of each 20 ms
 * period (coarser, but anywhere).
 */
export async function limitCpu(pid: number, vcpus: number): Promise<CpuLimit> {
  const period = Math.max(PERIOD_US, Math.ceil(MIN_QUOTA_US / vcpus));
  const quota = Math.round(period * vcpus);
  const name = `mlserve-tune-${process.pid}-${pid}`;
  const v2 = await readFile('/sys/fs/cgroup/cgroup.controllers', 'utf8').catch(() => '');
  try {
    if (v2.split(/\s+/).includes('cpu')) {
      return { method: 'cgroup v2 cpu.max', release: await cgroup(`/sys/fs/cgroup/${name}`, [['cpu.max', `${quota} ${period}`]], pid) };
    }
    if (await statIfExists('/sys/fs/cgroup/cpu/cpu.cfs_quota_us')) {
      return { method: 'cgroup v1 cfs quota', release: await cgroup(`/sys/fs/cgroup/cpu/${name}`, [['cpu.cfs_period_us', String(period)], ['cpu.cfs_quota_us', String(quota)]], pid) };
    }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EACCES' && code !== 'EPERM' && code !== 'EROFS') throw error; // not allowed here: the fallback below
  }
  return dutyCycle(pid, Math.min(1, vcpus));
}

function dutyCycle(pid: number, share: number): CpuLimit {
  const run = Math.max(1, Math.round(DUTY_PERIOD_MS * share));
  let stopTimer: NodeJS.Timeout | undefined;
  const signal = (s: NodeJS.Signals) => signalUnlessGone(pid, s);
  const cycle = setInterval(() => {
    signal('SIGCONT');
    if (share < 1) stopTimer = setTimeout(() => signal('SIGSTOP'), run);
  }, DUTY_PERIOD_MS);
  return {
    method: 'SIGSTOP/SIGCONT duty cycle',
    release: async () => {
      clearInterval(cycle);
      clearTimeout(stopTimer);
      signal('SIGCONT');
    },
  };
}
