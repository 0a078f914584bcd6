import { readFileSync } from 'node:fs';
import { CommanderError } from 'commander';
import { exitCodeFor, formatProblem, MlserveError, toMlserveError } from '../core/errors.js';
import { COMMANDS } from './commands/index.js';
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
  const style = makeStyle(useColor(io, argv.includes('--no-color')));
  const { program, chosen } = buildProgram(VERSION, COMMANDS, {
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
    const raw = program.opts() as Record<string, unknown>;
    const options: GlobalOptions = {
      json: raw.json === true,
      yes: raw.yes === true,
      debug: raw.debug === true,
      color: raw.color !== false,
    };
    if (typeof raw.config === 'string') options.config = raw.config;
    if (typeof raw.stage === 'string') options.stage = raw.stage;
    const interactive = isInteractive(io, options.json);
    const ctx: CommandContext = {
      io,
      options,
      style,
      interactive,
      reporter: new CliReporter(io, style, interactive, options.debug),
    };
    const result = await selected.spec.run(ctx, selected.args, selected.options);
    if (result.printed) return result.exitCode ?? 0;
    if (options.json) io.stdout.write(`${JSON.stringify({ ok: true, ...result.data })}\n`);
    else if (result.text !== undefined) io.stdout.write(result.text.endsWith('\n') ? result.text : `${result.text}\n`);
    return result.exitCode ?? 0;
  } catch (thrown) {
    const error = interrupted(thrown) ?? toMlserveError(thrown);
    reportError(io, style, error, { json, debug });
    return exitCodeFor(error);
  }
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
