import type { Reporter } from '../core/reporter.js';
import { isCI, type CliIO } from './io.js';
import type { Style } from './style.js';

/** Global options every command accepts. */
export interface GlobalOptions {
  config?: string;
  stage?: string;
  json: boolean;
  yes: boolean;
  debug: boolean;
  color: boolean;
}

/** What a command's run() gets: the world (io), the global options, and how to report. */
export interface CommandContext {
  io: CliIO;
  options: GlobalOptions;
  reporter: Reporter;
  /** Styling for stdout (the result): coloured only when stdout itself is a terminal. */
  style: Style;
  /** Styling for stderr (steps, warnings, logs): coloured only when stderr is a terminal. */
  errStyle: Style;
  /** True only on a TTY (stdin and stdout), without CI and without --json: the only time to prompt. */
  interactive: boolean;
}

/** What a command returns: `data` is the --json document (ok: true is added); `text` goes to stdout. */
export interface CommandResult {
  data: Record<string, unknown>;
  text?: string;
  /** Non-zero for "ran fine but the answer is no" (e.g. doctor found a failing check). */
  exitCode?: number;
  /** The command already wrote its result (a long-running `serve` prints its URL at start). */
  printed?: boolean;
}

/**
 * What `mlserve --help` lists for a command: enough to parse and list it without loading the
 * command's module (commands/index.ts holds one per command; the module loads only when it runs).
 */
export interface CommandHead {
  name: string;
  summary: string;
  arguments?: { name: string; description: string; required?: boolean }[];
}

/** A command's module: its long description, options, examples and run function. */
export interface CommandBody {
  description?: string;
  options?: { flags: string; description: string; default?: string | boolean; choices?: readonly string[] }[];
  examples: { command: string; description: string }[];
  run(ctx: CommandContext, args: string[], options: Record<string, unknown>): Promise<CommandResult>;
}

/** A command as data: its head and its body. */
export type CommandSpec = CommandHead & CommandBody;

export function isInteractive(io: CliIO, json: boolean): boolean {
  return io.stdin.isTTY === true && io.stdout.isTTY === true && !isCI(io.env) && !json;
}
