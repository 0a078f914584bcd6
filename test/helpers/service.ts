import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/**
 * Start a real server the tests talk to (moto_server, docker-registry, Azurite), wait until `ready`
 * answers true (30 s at most), and return how to stop it by its PID. `missing` says how to get the
 * program when it exits at once.
 */
export async function startService(o: { command: string; args: string[]; ready: () => Promise<boolean>; missing: string }): Promise<{ stop: () => Promise<void> }> {
  const child: ChildProcess = spawn(o.command, o.args, { stdio: 'ignore' });
  // A test process that ends without reaching its afterAll (a timeout, a crash) still stops the server.
  const orphan = () => child.kill('SIGKILL');
  process.once('exit', orphan);
  child.once('exit', () => process.off('exit', orphan));
  const started = Date.now();
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${o.command} exited (${child.exitCode}); ${o.missing}`);
    if (await o.ready().catch(() => false)) break;
    if (Date.now() - started > 30_000) throw new Error(`${o.command} did not start in 30 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
