import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Config } from '../core/config/schema.js';
import { walkFiles } from './walk.js';
import type { Target } from './target.js';

export const TEMPLATES_DIR = fileURLToPath(new URL('../../templates/python/', import.meta.url));
/** Bumped when the handler's contract with mlserve.json changes. */
export const HANDLER_VERSION = '1';

/** An offloaded artifact as the handler sees it in mlserve.json. */
export interface PinnedArtifact {
  path: string;
  sha256: string;
  bytes: number;
  location: { kind: 's3' | 'azure-blob' | 'local'; key: string };
}

/** The rendered handler config (mlserve.json): everything the runtime reads, nothing secret. */
export function renderSettings(config: Config, stage: string, modelSha256: string, artifacts: PinnedArtifact[]): string {
  const model: Record<string, string> = { framework: config.model.framework, dir: 'model', sha256: modelSha256 };
  if (config.model.framework === 'custom') model.predict = config.model.predict ?? 'predict.py';
  else if (config.model.file) model.file = config.model.file;
  const settings = {
    name: config.name,
    stage,
    handlerVersion: HANDLER_VERSION,
    model,
    endpoint: { public: config.endpoint.public },
    triggers: { s3: config.triggers.s3 },
    artifacts,
  };
  return `${JSON.stringify(settings, null, 2)}\n`;
}

/** The handler's files for a target: the runtime package plus the target's entry point(s). */
export async function handlerFiles(target: Target): Promise<{ rel: string; abs: string; size: number; mode: number; mtimeMs: number }[]> {
  const runtime = (await walkFiles(`${TEMPLATES_DIR}mlserve_runtime`, 'mlserve_runtime/')).filter((f) => f.rel.endsWith('.py') && !f.rel.includes('__pycache__'));
  const all = await walkFiles(TEMPLATES_DIR);
  return [...runtime, ...all.filter((f) => target.entryFiles.includes(f.rel))];
}

export async function handlerVersionOf(): Promise<string> {
  const init = await readFile(`${TEMPLATES_DIR}mlserve_runtime/__init__.py`, 'utf8');
  return /HANDLER_VERSION = "([^"]+)"/.exec(init)?.[1] ?? HANDLER_VERSION;
}
