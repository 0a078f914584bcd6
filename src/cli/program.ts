import { Command, Option } from 'commander';
import type { CommandHead, CommandSpec } from './context.js';

/** Options every command takes, before or after its name (`mlserve --json deploy` = `mlserve deploy --json`). */
export const GLOBAL_OPTIONS: { flags: string; description: string }[] = [
  { flags: '-c, --config <file>', description: 'config file (default: mlserve.config.yaml, looked up from the current directory upwards)' },
  { flags: '-s, --stage <name>', description: 'stage whose overrides apply (default: dev)' },
  { flags: '--json', description: 'print exactly one JSON document on stdout, and never prompt' },
  { flags: '-y, --yes', description: 'answer yes to confirmations and take defaults instead of prompting' },
  { flags: '--debug', description: 'print debug logs and stack traces' },
  { flags: '--no-color', description: 'disable colored output' },
];

export interface Chosen {
  spec: CommandSpec;
  args: string[];
  /** The command's own options, and the global options given after its name. */
  options: Record<string, unknown>;
}

/**
 * Build the commander program from command specs; a command given only by its head is listed (and
 * suggested for a typo) but takes no options: main() loads the full spec of any command in argv. Commander only parses: each action stores the
 * chosen spec and its arguments, and main() runs it, so errors and output are handled in one place.
 * Program options are positional (they belong to the program only before a command's name), so a
 * program-wide flag such as --version can never shadow a command's own (`invoke --version 2`); the
 * global options are also declared on every command, so they work after its name.
 */
export function buildProgram(
  version: string,
  specs: (CommandSpec | CommandHead)[],
  write: { out: (s: string) => void; err: (s: string) => void },
): { program: Command; chosen: () => Chosen | undefined } {
  let chosen: Chosen | undefined;
  const program = new Command('mlserve')
    .description('Turn a trained model into a production serverless endpoint (AWS Lambda, Azure Functions, or local).')
    .version(version, '-v, --version', 'print the mlserve version')
    .enablePositionalOptions()
    .helpOption('-h, --help', 'show help')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({ writeOut: write.out, writeErr: write.err, outputError: () => undefined })
    .addHelpText(
      'after',
      `
Examples:
  $ mlserve init --yes --name iris --model ./model.joblib   write mlserve.config.yaml
  $ mlserve doctor                                           check python, pip and credentials
  $ mlserve schema > mlserve.schema.json                     JSON Schema for editor completion

Docs: README.md and mlserve.config.example.yaml`,
    );
  for (const o of GLOBAL_OPTIONS) program.option(o.flags, o.description);

  for (const spec of specs) {
    const cmd = program.command(spec.name).summary(spec.summary);
    for (const a of spec.arguments ?? []) cmd.argument(a.required ? `<${a.name}>` : `[${a.name}]`, a.description);
    cmd.exitOverride().configureOutput({ writeOut: write.out, writeErr: write.err, outputError: () => undefined });
    if ('run' in spec) addBody(cmd, spec, (c) => (chosen = c));
  }
  return { program, chosen: () => chosen };
}

/** A loaded command: its options (and the global ones, hidden), examples, and the action that records it. */
function addBody(cmd: Command, spec: CommandSpec, choose: (c: Chosen) => void): void {
  cmd.description(spec.description ?? spec.summary);
  for (const o of spec.options ?? []) {
    const option = new Option(o.flags, o.description);
    if (o.default !== undefined) option.default(o.default);
    if (o.choices) option.choices(o.choices);
    cmd.addOption(option);
  }
  const own = new Set(cmd.options.map((o) => o.long));
  for (const o of GLOBAL_OPTIONS) {
    const option = new Option(o.flags, o.description);
    if (!own.has(option.long)) cmd.addOption(option.hideHelp());
  }
  if (spec.examples.length > 0) {
    const width = Math.max(...spec.examples.map((e) => e.command.length));
    cmd.addHelpText('after', `\nExamples:\n${spec.examples.map((e) => `  $ ${e.command.padEnd(width)}   ${e.description}`).join('\n')}`);
  }
  cmd.action((...received: unknown[]) => {
    const command = received[received.length - 1] as Command;
    const args = received.slice(0, (spec.arguments ?? []).length).filter((a): a is string => typeof a === 'string');
    choose({ spec, args, options: command.opts() });
  });
}
