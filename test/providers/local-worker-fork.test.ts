import { cpSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { WorkerPool, type Outcome } from '../../src/providers/local/worker-pool.js';
import { tempDir, testPython } from '../helpers/python.js';

// The real worker runtime with a handler whose init is visible: it prints a line, writes a file to
// /tmp, and (per test) leaves a thread or a connection behind. Each request says who answered it.
const HANDLER = `
import os, socket, sys, tempfile, threading, time
print("init ran", flush=True)
with open(os.path.join(tempfile.gettempdir(), "from-init.txt"), "w") as f:
    f.write("written at init")
LEAVE = os.environ.get("LEAVE")
if LEAVE == "thread":
    threading.Thread(target=time.sleep, args=(3600,), daemon=True).start()
if LEAVE == "connection":
    KEEP = socket.socketpair()
if LEAVE == "failing fork":  # a fork the system refuses (out of processes), which no real limit gives a root test
    def _refuse():
        raise OSError(11, "Resource temporarily unavailable")
    os.fork = _refuse

def handler(event, context):
    forked = os.getppid() != int(os.environ["POOL_PID"])
    if forked and "exit" in event:
        os._exit(event["exit"])
    if forked and "signal" in event:
        os.kill(os.getpid(), event["signal"])
    time.sleep(event.get("sleep", 0))
    tmp = tempfile.gettempdir()
    return {"pid": os.getpid(), "ppid": os.getppid(), "tmp": tmp, "tmp_env": os.environ["TMPDIR"],
            "init_file": open(os.path.join(tmp, "from-init.txt")).read(), "fork_env": os.environ.get("MLSERVE_FORK_TMPS")}
`;

type Answer = { pid: number; ppid: number; tmp: string; tmp_env: string; init_file: string; fork_env: string | null };

const pools: WorkerPool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()));
});

function pool(size: number, leave?: string, timeoutMs = 20_000): { pool: WorkerPool; logs: string[] } {
  const bundle = tempDir('mlserve-fork-bundle-');
  cpSync(join(import.meta.dirname, '../../templates/python/mlserve_runtime'), join(bundle, 'mlserve_runtime'), { recursive: true });
  writeFileSync(join(bundle, 'mlserve_handler.py'), HANDLER);
  const logs: string[] = [];
  const env = { PATH: process.env.PATH ?? '', POOL_PID: String(process.pid), ...(leave ? { LEAVE: leave } : {}) };
  const p = new WorkerPool({ python: testPython(), bundleDir: bundle, env, timeoutMs, memoryMb: 2048, onLog: (line) => logs.push(line) }, size);
  pools.push(p);
  return { pool: p, logs };
}

/** Prewarm, then wait until every worker is idle: prewarm answers when the first is ready. */
async function ready(p: WorkerPool): Promise<void> {
  expect(await p.prewarm()).toMatchObject({ ok: true });
  while (p.stats().idle < p.size) await new Promise((r) => setTimeout(r, 10));
}

/** Invoke `n` at once, each long enough that no worker answers two. */
async function answers(p: WorkerPool, n: number): Promise<Answer[]> {
  const outcomes = await Promise.all(Array.from({ length: n }, () => p.invoke({ sleep: 0.4 })));
  return outcomes.map((o) => {
    expect(o).toMatchObject({ kind: 'ok' });
    return (o as Extract<Outcome, { kind: 'ok' }>).result as Answer;
  });
}

describe('the local worker pool forks its workers from the first one after its init', () => {
  it('runs the init once; every worker answers, from its own /tmp holding what the init wrote there', async () => {
    const { pool: p, logs } = pool(3);
    await ready(p);
    const got = await answers(p, 3);
    expect(new Set(got.map((a) => a.pid)).size).toBe(3);
    const first = got.find((a) => !got.some((b) => b.pid === a.ppid))!;
    expect(got.filter((a) => a.ppid === first.pid)).toHaveLength(2); // the other two are its children
    expect(logs.filter((l) => l === 'init ran')).toHaveLength(1);
    expect(new Set(got.map((a) => a.tmp)).size).toBe(3);
    for (const a of got) {
      expect(a.tmp_env).toBe(a.tmp);
      expect(a.init_file).toBe('written at init');
      expect(a.fork_env).toBeNull(); // the pool's own variable never reaches the handler
    }
  }, 60_000);

  it.each([
    { leave: 'thread', label: 'the init leaves a thread running', why: /the init left 1 thread\(s\) running/ },
    { leave: 'connection', label: 'the init leaves a connection open', why: /the init opened a connection \(fd \d+\)/ },
    { leave: 'failing fork', label: 'the fork fails', why: /fork failed: \[Errno 11\] Resource temporarily unavailable/ },
  ])('starts the workers itself, and logs why, when $label', async ({ leave, why }) => {
    const { pool: p, logs } = pool(3, leave);
    await ready(p);
    const got = await answers(p, 3);
    expect(new Set(got.map((a) => a.pid)).size).toBe(3);
    expect(got.every((a) => a.ppid === process.pid)).toBe(true);
    expect(logs.filter((l) => l === 'init ran')).toHaveLength(3);
    expect(logs.find((l) => l.includes('were started, not forked'))).toMatch(why);
  }, 60_000);

  it('reports how a forked worker died (its exit code, a signal), and replaces it', async () => {
    // Two at once: one reaches the forked worker, which dies; the first worker answers the other.
    // (A replacement is started, not forked, as Lambda starts a new environment: a new pool each.)
    for (const [event, detail] of [[{ exit: 7 }, 'exit code 7'], [{ signal: 9 }, 'signal SIGKILL']] as const) {
      const { pool: p } = pool(2);
      await ready(p);
      const outcomes = await Promise.all([p.invoke({ ...event, sleep: 0.4 }), p.invoke({ ...event, sleep: 0.4 })]);
      expect(outcomes.map((o) => o.kind).sort()).toEqual(['crash', 'ok']);
      expect(outcomes.find((o) => o.kind === 'crash')).toMatchObject({ detail });
    }
    // A forked worker killed from outside while idle leaves the pool; a new worker takes its place.
    const { pool: p } = pool(2);
    await ready(p);
    const victim = (await answers(p, 2)).find((a) => a.ppid !== process.pid)?.pid;
    expect(victim).toBeDefined();
    process.kill(victim!, 'SIGKILL');
    while (p.stats().workers > 1) await new Promise((r) => setTimeout(r, 10)); // its pipes closing tell the pool
    const after = await answers(p, 2);
    expect(after.map((a) => a.pid)).not.toContain(victim);
    expect(p.stats().workers).toBe(2);
  }, 60_000);

  it('a forked worker past its timeout is killed and answered as a timeout', async () => {
    const { pool: p } = pool(2, undefined, 1500);
    await ready(p);
    const outcomes = await Promise.all([p.invoke({ sleep: 5 }), p.invoke({ sleep: 5 })]);
    expect(outcomes.map((o) => o.kind)).toEqual(['timeout', 'timeout']);
    expect((await answers(p, 2)).length).toBe(2);
  }, 60_000);
});
