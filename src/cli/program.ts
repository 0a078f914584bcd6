import { Command, Option } from 'commander';
import type { CommandSpec } from './context.js';

/**
 * Build the commander program from command specs. Commander only parses: each action stores the
 * chosen spec and its arguments, and main() runs it, so errors and output are handled in one place.
 */
export function buildProgram(
  version: string,
  specs: CommandSpec[],
  write: { out: (s: string) => void; err: (s: string) => void },
): { program: Command; chosen: () => { spec: CommandSpec; args: string[]; options: Record<string, unknown> } | undefined } {
  let chosen: { spec: CommandSpec; args: string[]; options: Record<string, unknown> } | undefined;
  const program = new Command('mlserve')
    .description('Turn a trained model into a production serverless endpoint (AWS Lambda, Azure Functions, or local).')
    .version(version, '-v, --version', 'print the mlserve version')
    .option('-c, --config <file>', 'config file (default: mlserve.config.yaml, looked up from the current directory upwards)')
    .option('-s, --stage <name>', 'stage whose overrides apply (default: dev)')
    .option('--json', 'print exactly one JSON document on stdout, and never prompt')
    .option('-y, --yes', 'answer yes to confirmations and take defaults instead of prompting')
    .option('--debug', 'print debug logs and stack traces')
    .option('--no-color', 'disable colored output')
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

  for (const spec of specs) {
    const cmd = program.command(spec.name).summary(spec.summary).description(spec.description ?? spec.summary);
    for (const a of spec.arguments ?? []) cmd.argument(a.required ? `<${a.name}>` : `[${a.name}]`, a.description);
    for (const o of spec.options ?? []) {
      const option = new Option(o.flags, o.description);
      if (o.default !== undefined) option.default(o.default);
      if (o.choices) option.choices(o.choices);
      cmd.addOption(option);
    }
    if (spec.examples.length > 0) {
      const width = Math.max(...spec.examples.map((e) => e.command.length));
      cmd.addHelpText('after', `\nExamples:\n${spec.examples.map((e) => `  $ ${e.command.padEnd(width)}   ${e.description}`).join('\n')}`);
    }
    cmd.exitOverride().configureOutput({ writeOut: write.out, writeErr: write.err, outputError: () => undefined });
    cmd.action((...received: unknown[]) => {
      const command = received[received.length - 1] as Command;
      const args = received.slice(0, (spec.arguments ?? []).length).filter((a): a is string => typeof a === 'string');
      chosen = { spec, args, options: command.opts() };
    });
  }
  return { program, chosen: () => chosen };
}
