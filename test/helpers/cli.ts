import { PassThrough } from 'node:stream';
import { main } from '../../src/cli/main.js';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout parsed as the one JSON document --json promises. */
  json<T = Record<string, unknown>>(): T;
}

/** Run `mlserve argv` in-process, with no TTY unless asked, and capture both streams. */
export async function runCli(
  argv: string[],
  options: { cwd: string; env?: Record<string, string | undefined>; tty?: boolean; stderrTty?: boolean; signal?: AbortSignal; onStdout?: (text: string) => void } = { cwd: process.cwd() },
): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const stdin = Object.assign(new PassThrough(), { isTTY: options.tty === true });
  stdin.end();
  const code = await main(argv, {
    cwd: options.cwd,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, PIP_RETRIES: '0', ...options.env },
    stdin,
    stdout: {
      write: (s: string) => {
        stdout += s;
        options.onStdout?.(stdout);
      },
      isTTY: options.tty === true,
    },
    stderr: { write: (s: string) => (stderr += s), isTTY: options.stderrTty === true },
    ...(options.signal ? { signal: options.signal } : {}),
  });
  return {
    code,
    stdout,
    stderr,
    json<T>() {
      const lines = stdout.trim().split('\n');
      if (lines.length !== 1) throw new Error(`expected exactly one JSON line on stdout, got:\n${stdout}`);
      return JSON.parse(lines[0]!) as T;
    },
  };
}

/** Start `mlserve serve --port 0` in-process; resolves with its URL and a stop() that sends Ctrl-C. */
export async function startServe(cwd: string, env: Record<string, string | undefined>, extra: string[] = []): Promise<{ url: string; stop: () => Promise<CliRun> }> {
  const controller = new AbortController();
  let announce: (url: string) => void = () => undefined;
  const announced = new Promise<string>((resolve) => (announce = resolve));
  const done = runCli(['serve', '--port', '0', '--json', ...extra], {
    cwd,
    env,
    signal: controller.signal,
    onStdout: (text) => {
      const line = text.split('\n')[0]!;
      if (text.includes('\n')) announce((JSON.parse(line) as { url: string }).url);
    },
  });
  const url = await Promise.race([announced, done.then((r) => Promise.reject(new Error(`serve exited ${r.code}: ${r.stderr}`)))]);
  return {
    url,
    stop: async () => {
      controller.abort();
      return done;
    },
  };
}
