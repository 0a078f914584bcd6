import { describe, expect, it } from 'vitest';
import { loadAllCommands } from '../../src/cli/commands/index.js';
import { buildProgram, GLOBAL_OPTIONS } from '../../src/cli/program.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/python.js';

/** How commander names an option's value: --dry-run → dryRun, --no-promote → promote (false). */
function parsed(flags: string): { long: string; key: string; value: unknown; argv: string[] } {
  const long = /--[a-z0-9-]+/.exec(flags)![0];
  const negated = long.startsWith('--no-');
  const key = long.slice(negated ? 5 : 2).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
  const takesValue = /[<[]/.test(flags);
  const value = negated ? false : takesValue ? `v-${key}` : true;
  return { long, key, value, argv: takesValue ? [long, String(value)] : [long] };
}

const COMMANDS = await loadAllCommands();

function parse(argv: string[]) {
  const { program, chosen } = buildProgram('9.9.9', COMMANDS, { out: () => undefined, err: () => undefined });
  program.parse(argv, { from: 'user' });
  return { chosen: chosen(), globals: program.opts() };
}

// Every option of every command (the README documents each), with a value that must reach the command.
const cases = COMMANDS.flatMap((spec) =>
  (spec.options ?? []).map((o) => {
    const choice = o.choices?.[0];
    const p = parsed(o.flags);
    const value = choice ?? p.value;
    const argv = choice ? [p.long, choice] : p.argv;
    return { command: spec.name, flags: o.flags, key: p.key, value, argv };
  }),
);

describe('argv → options, for every command', () => {
  it.each(cases)('$command $flags reaches the command', ({ command, key, value, argv }) => {
    const { chosen } = parse([command, ...argv]);
    expect(chosen?.spec.name).toBe(command);
    expect(chosen?.options[key]).toEqual(value);
  });

  it.each(COMMANDS.map((c) => c.name))('global options work before and after `%s`', (command) => {
    for (const o of GLOBAL_OPTIONS) {
      const p = parsed(o.flags);
      const after = parse([command, ...p.argv]);
      expect(after.chosen?.options[p.key], `${command} ${p.long}`).toEqual(p.value);
      const before = parse([...p.argv, command]);
      expect(before.globals[p.key], `${p.long} ${command}`).toEqual(p.value);
    }
  });

  it('no global flag shadows a command flag of the same name: `invoke --version 2` and `serve --version 2`', () => {
    expect(parse(['invoke', '--version', '2']).chosen?.options.version).toBe('2');
    expect(parse(['serve', '--version', '2']).chosen?.options.version).toBe('2');
  });

  it('`mlserve --version` still prints the version; `mlserve invoke --version 2` does not', async () => {
    const cwd = tempDir();
    expect(await runCli(['--version'], { cwd })).toMatchObject({ code: 0, stdout: expect.stringMatching(/^\d+\.\d+\.\d+\n$/) });
    const invoke = await runCli(['invoke', '--version', '2', '--expect-json', '{"x": 1}'], { cwd });
    expect(invoke.stdout).not.toMatch(/^\d+\.\d+\.\d+\n$/);
    expect(invoke.code).toBe(2); // no config here: the command ran and said so
    expect(invoke.stderr).toContain('no mlserve.config.yaml');
  });
});
