/** Everything a command may touch of the outside world, injected so tests run `main()` in-process. */
export interface CliIO {
  stdout: { write(chunk: string): unknown; isTTY?: boolean };
  stderr: { write(chunk: string): unknown; isTTY?: boolean; columns?: number };
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  env: Record<string, string | undefined>;
  cwd: string;
  /** Aborted on Ctrl-C. */
  signal?: AbortSignal;
}

/** The real process's streams. */
export function processIO(signal?: AbortSignal): CliIO {
  const io: CliIO = { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env, cwd: process.cwd() };
  if (signal) io.signal = signal;
  return io;
}

/** Color only on a TTY, never with --no-color or NO_COLOR (https://no-color.org). */
export function useColor(io: CliIO, noColor: boolean): boolean {
  if (noColor || io.env.NO_COLOR !== undefined) return false;
  if (io.env.FORCE_COLOR && io.env.FORCE_COLOR !== '0') return true;
  return io.stderr.isTTY === true;
}
