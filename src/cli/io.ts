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
  // stdin is opened only when a command reads it (opening it costs a few ms of every start-up).
  const io: CliIO = {
    stdout: process.stdout,
    stderr: process.stderr,
    get stdin() {
      return process.stdin;
    },
    env: process.env,
    cwd: process.cwd(),
  };
  if (signal) io.signal = signal;
  return io;
}

/** Running in CI: `CI` set to anything but an empty string, `false` or `0` (CI=false is a common opt-out). */
export function isCI(env: Record<string, string | undefined>): boolean {
  const value = env.CI?.trim().toLowerCase();
  return value !== undefined && value !== '' && value !== 'false' && value !== '0';
}

/**
 * Whether to colour one stream: never with --no-color; FORCE_COLOR forces it on (off when 0 or
 * false), as Node and supports-color read it; NO_COLOR set to a non-empty value turns it off
 * (https://no-color.org); otherwise only when that very stream is a terminal.
 */
export function useColor(stream: { isTTY?: boolean }, env: Record<string, string | undefined>, noColorFlag: boolean): boolean {
  if (noColorFlag) return false;
  const force = env.FORCE_COLOR;
  if (force !== undefined) return !['0', 'false'].includes(force.trim().toLowerCase());
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  return stream.isTTY === true;
}
