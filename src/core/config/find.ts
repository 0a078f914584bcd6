import { dirname, join, resolve } from 'node:path';
import { MlserveError } from '../errors.js';
import { statIfExists } from '../fs.js';

// Kept apart from load.ts (YAML and schema): finding the config file is all that a command's fast
// path needs before it knows whether the config must be parsed at all.

export const CONFIG_FILENAMES = ['mlserve.config.yaml', 'mlserve.config.yml'] as const;

/** Find the config file: the explicit path, or the nearest mlserve.config.yaml at or above cwd. */
export async function findConfig(cwd: string, configPath?: string): Promise<string> {
  if (configPath) {
    const file = resolve(cwd, configPath);
    if (!(await isFile(file))) {
      throw new MlserveError('CONFIG_NOT_FOUND', `config file ${configPath} does not exist`, {
        hint: 'check the --config path, or run `mlserve init` to create one',
      });
    }
    return file;
  }
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    for (const name of CONFIG_FILENAMES) {
      const file = join(dir, name);
      if (await isFile(file)) return file;
    }
    if (dirname(dir) === dir) break;
  }
  throw new MlserveError('CONFIG_NOT_FOUND', `no mlserve.config.yaml in ${cwd} or any directory above it`, {
    hint: 'run `mlserve init` in your model directory, or pass --config <file>',
  });
}

/** Whether a regular file is there; only "not found" is false, any other failure is raised. */
async function isFile(path: string): Promise<boolean> {
  return (await statIfExists(path))?.isFile() ?? false;
}
