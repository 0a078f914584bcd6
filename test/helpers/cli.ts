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
  options: { cwd: string; env?: Record<string, string | undefined>; tty?: boolean } = { cwd: process.cwd() },
): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const stdin = Object.assign(new PassThrough(), { isTTY: options.tty === true });
  stdin.end();
  const code = await main(argv, {
    cwd: options.cwd,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, PIP_RETRIES: '0', ...options.env },
    stdin,
    stdout: { write: (s: string) => (stdout += s), isTTY: options.tty === true },
    stderr: { write: (s: string) => (stderr += s), isTTY: false },
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
