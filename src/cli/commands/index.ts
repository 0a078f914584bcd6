import type { CommandBody, CommandHead, CommandSpec } from '../context.js';

/** A command's head and how to load its module: `--help` and `--version` load none of them. */
export interface CommandEntry extends CommandHead {
  load(): Promise<CommandBody>;
}

/** Every registered command, in the order `--help` lists them. Only commands that work. */
export const CATALOG: CommandEntry[] = [
  {
    name: 'init',
    summary: 'detect the model and write mlserve.config.yaml',
    arguments: [{ name: 'dir', description: 'project directory to write the config in (default: current directory)' }],
    load: async () => (await import('./init.js')).initCommand,
  },
  {
    name: 'config',
    summary: 'validate the config and print it resolved for a stage',
    load: async () => (await import('./config.js')).configCommand,
  },
  {
    name: 'package',
    summary: 'build the bundle for the target and check it against the platform limits',
    load: async () => (await import('./package.js')).packageCommand,
  },
  {
    name: 'deploy',
    summary: 'package, pre-flight, publish an immutable version, point the stage at it, print the endpoint',
    load: async () => (await import('./deploy.js')).deployCommand,
  },
  {
    name: 'export',
    summary: 'write the deployment as CloudFormation, SAM or Terraform, from the plan deploy applies',
    load: async () => (await import('./export.js')).exportCommand,
  },
  {
    name: 'invoke',
    summary: 'call the deployed function and print its answer; exit 1 on any function error',
    load: async () => (await import('./invoke.js')).invokeCommand,
  },
  {
    name: 'serve',
    summary: 'run the local endpoint in the foreground (Ctrl-C stops it)',
    load: async () => (await import('./serve.js')).serveCommand,
  },
  {
    name: 'versions',
    summary: 'list published versions and where the stage points; `versions prune --keep n` deletes old ones',
    arguments: [{ name: 'action', description: 'prune: delete versions beyond the newest --keep that no alias points at' }],
    load: async () => (await import('./versions.js')).versionsCommand,
  },
  {
    name: 'promote',
    summary: 'point the stage at a version, or send it a share of traffic (canary)',
    arguments: [{ name: 'version', description: 'the version to promote' }],
    load: async () => (await import('./versions.js')).promoteCommand,
  },
  {
    name: 'rollback',
    summary: 'send the stage back to its previous version (or end a canary)',
    load: async () => (await import('./versions.js')).rollbackCommand,
  },
  {
    name: 'status',
    summary: 'per version: requests, errors, throttles, cold starts, p50/p90/p99, memory and estimated cost',
    load: async () => (await import('./status.js')).statusCommand,
  },
  {
    name: 'tune',
    summary: 'the memory size with the lowest cost per million requests that meets a p99 target',
    load: async () => (await import('./tune.js')).tuneCommand,
  },
  {
    name: 'logs',
    summary: 'print the function’s logs (--follow to keep printing)',
    load: async () => (await import('./logs.js')).logsCommand,
  },
  {
    name: 'destroy',
    summary: 'remove everything mlserve created for this app and stage',
    load: async () => (await import('./versions.js')).destroyCommand,
  },
  {
    name: 'doctor',
    summary: 'check python, pip, the config and each provider’s credentials',
    load: async () => (await import('./doctor.js')).doctorCommand,
  },
  {
    name: 'schema',
    summary: 'print the JSON Schema of mlserve.config.yaml',
    load: async () => (await import('./schema.js')).schemaCommand,
  },
];

/** The full spec of a command: its head and its loaded module. */
export async function loadCommand(entry: CommandEntry): Promise<CommandSpec> {
  const { load, ...head } = entry;
  return { ...head, ...(await load()) };
}

/**
 * The commands to parse `argv` with: the full spec of every command named in it (the one that
 * runs, or the one `help <name>` shows), the head of the rest (enough to list them and to suggest
 * a name). A value that happens to equal a command's name only loads one module too many.
 */
export async function commandsFor(argv: string[]): Promise<(CommandSpec | CommandHead)[]> {
  return Promise.all(CATALOG.map((entry) => (argv.includes(entry.name) ? loadCommand(entry) : headOf(entry))));
}

/** Every command's full spec (tests, and tools that document every option). */
export async function loadAllCommands(): Promise<CommandSpec[]> {
  return Promise.all(CATALOG.map(loadCommand));
}

function headOf(entry: CommandEntry): CommandHead {
  const { load: _load, ...head } = entry;
  return head;
}
