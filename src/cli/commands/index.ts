import type { CommandSpec } from '../context.js';
import { configCommand } from './config.js';
import { doctorCommand } from './doctor.js';
import { initCommand } from './init.js';
import { packageCommand } from './package.js';
import { deployCommand } from './deploy.js';
import { invokeCommand } from './invoke.js';
import { logsCommand } from './logs.js';
import { serveCommand } from './serve.js';
import { destroyCommand, promoteCommand, rollbackCommand, versionsCommand } from './versions.js';
import { schemaCommand } from './schema.js';

/** Every registered command, in the order `--help` lists them. Only commands that work. */
export const COMMANDS: CommandSpec[] = [
  initCommand,
  configCommand,
  packageCommand,
  deployCommand,
  invokeCommand,
  serveCommand,
  versionsCommand,
  promoteCommand,
  rollbackCommand,
  logsCommand,
  destroyCommand,
  doctorCommand,
  schemaCommand,
];
