import { readFileSync } from 'node:fs';
import { CommanderError } from 'commander';
import { exitCodeFor, formatProblem, MlserveError, toMlserveError } from '../core/errors.js';
import { commandsFor } from './commands/index.js';
import { isInteractive, type CommandContext, type GlobalOptions } from './context.js';
import { processIO, useColor, type CliIO } from './io.js';
import { buildProgram } from './program.js';
import { CliReporter } from './reporter.js';
import { makeStyle, type Style } from './style.js';

export const VERSION: string = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

/**
 * Run the CLI with `argv` (without `node` and the script) and return the exit code:
 * 0 ok, 1 operation failed, 2 usage or config error, 130 interrupted. Never calls process.exit.
 */
export async function main(argv: string[], io: CliIO = processIO()): Promise<number> {
  const json = argv.includes('--json');
  const debug = argv.includes('--debug');
  const noColor = argv.includes('--no-color');
  // Each stream is coloured only when it is a terminal itself: `mlserve doctor > out.txt` writes no escapes.
  const style = makeStyle(useColor(io.stdout, io.env, noColor));
  const errStyle = makeStyle(useColor(io.stderr, io.env, noColor));
  const { program, chosen } = buildProgram(VERSION, await commandsFor(argv), {
    out: (s) => void io.stdout.write(s),
    err: (s) => void io.stderr.write(s),
  });

  if (argv.length === 0) {
    io.stderr.write(program.helpInformation());
    return 2;
  }
  try {
    try {
      await program.parseAsync(argv, { from: 'user' });
    } catch (error) {
      if (error instanceof CommanderError) {
        if (['commander.helpDisplayed', 'commander.version', 'commander.help'].includes(error.code)) return 0;
        throw new MlserveError('USAGE', error.message.replace(/^error: /, ''), {
          hint: `run \`mlserve ${argv.find((a) => !a.startsWith('-')) ?? ''} --help\` for usage`.replace('  ', ' '),
        });
      }
      throw error;
    }
    const selected = chosen();
    if (!selected) {
      io.stderr.write(program.helpInformation());
      return 2;
    }
    const options = globalOptions(program.opts(), selected.options);
    const interactive = isInteractive(io, options.json);
    const ctx: CommandContext = {
      io,
      options,
      style,
      errStyle,
      interactive,
      reporter: new CliReporter(io, errStyle, interactive, options.debug),
    };
    const result = await selected.spec.run(ctx, selected.args, selected.options);
    if (result.printed) return result.exitCode ?? 0;
    // A command that ran but answers "no" (doctor with a failing check) is not ok, in JSON too.
    if (options.json) io.stdout.write(`${JSON.stringify({ ok: (result.exitCode ?? 0) === 0, ...result.data })}\n`);
    else if (result.text !== undefined) io.stdout.write(result.text.endsWith('\n') ? result.text : `${result.text}\n`);
    return result.exitCode ?? 0;
  } catch (thrown) {
    const error = interrupted(thrown) ?? toMlserveError(thrown);
    reportError(io, errStyle, error, { json, debug });
    return exitCodeFor(error);
  }
}

/** Global options from before the command's name and after it (after wins; --no-color anywhere). */
function globalOptions(before: Record<string, unknown>, after: Record<string, unknown>): GlobalOptions {
  const pick = (key: string) => after[key] ?? before[key];
  const options: GlobalOptions = {
    json: pick('json') === true,
    yes: pick('yes') === true,
    debug: pick('debug') === true,
    color: before.color !== false && after.color !== false,
  };
  const config = pick('config');
  const stage = pick('stage');
  if (typeof config === 'string') options.config = config;
  if (typeof stage === 'string') options.stage = stage;
  return options;
}

/** Ctrl-C inside a prompt or an aborted operation becomes INTERRUPTED (exit 130). */
function interrupted(error: unknown): MlserveError | undefined {
  const name = error instanceof Error ? error.name : '';
  if (name === 'ExitPromptError' || name === 'AbortError' || name === 'AbortPromptError') {
    return new MlserveError('INTERRUPTED', 'interrupted', { cause: error });
  }
  return undefined;
}

function reportError(io: CliIO, style: Style, error: MlserveError, flags: { json: boolean; debug: boolean }): void {
  if (flags.json) {
    const doc: Record<string, unknown> = { code: error.code, message: error.message, hint: error.hint ?? null };
    if (error.problems.length > 0) doc.problems = error.problems;
    if (error.details) doc.details = error.details;
    io.stdout.write(`${JSON.stringify({ ok: false, error: doc })}\n`);
  }
  const lines = [`${style.red('error:')} ${error.message} ${style.dim(`[${error.code}]`)}`];
  for (const p of error.problems) lines.push(`  ${formatProblem(p)}`);
  if (error.hint) lines.push(`${style.cyan('hint:')} ${error.hint}`);
  if (flags.debug) {
    for (let e: unknown = error; e instanceof Error; e = e.cause) lines.push(style.dim(e.stack ?? String(e)));
  }
  io.stderr.write(`${lines.join('\n')}\n`);
}
