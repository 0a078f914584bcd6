import type { Config } from '../../core/config/schema.js';
import { MB, type LimitSpec } from '../../packaging/limits.js';
import { imageTarget, type RuntimeImage } from '../../packaging/target.js';
import type { Platform } from '../platform.js';
import { flexMemory } from './plan.js';

/** Azure Functions' limits, each with its source (../shared/fixtures/limits.md collects them). */
export const AZURE_LIMITS: LimitSpec[] = [
  {
    id: 'unzipped',
    name: 'app content (Consumption)',
    bytes: 1024 * MB,
    effect: 'warn',
    source: 'https://learn.microsoft.com/en-us/azure/azure-functions/functions-scale#service-limits (Consumption app content storage; 1 GB in the 2019 table, 5 GB in 2023: no official package limit)',
  },
];

/** Azure Functions Linux images: Debian 11 (glibc 2.31) up to Python 3.11, Debian 12 (2.36) after. */
export const AZURE_RUNTIMES: RuntimeImage[] = ['3.9', '3.10', '3.11', '3.12', '3.13'].map((python) =>
  Number(python.split('.')[1]) >= 12 ? { python, os: 'Debian 12', glibc: [2, 36] } : { python, os: 'Debian 11', glibc: [2, 31] },
);

/** Flex Consumption's HTTP response cap (Azure Load Balancer idle timeout), whatever functionTimeout says. */
export const AZURE_HTTP_RESPONSE_SECONDS = 230;

/** Where the config asks for what Flex Consumption cannot give, with the source of each limit. */
function azureConfigNotes(config: Config): string[] {
  const notes: string[] = [];
  if (config.resources.timeout > AZURE_HTTP_RESPONSE_SECONDS) {
    notes.push(
      `resources.timeout ${config.resources.timeout} s: an HTTP-triggered Azure function must answer within ${AZURE_HTTP_RESPONSE_SECONDS} s whatever functionTimeout says (https://learn.microsoft.com/en-us/azure/azure-functions/functions-scale#timeout); longer requests get 502 from the load balancer`,
    );
  }
  const memory = flexMemory(config.resources.memory);
  if (memory.note) notes.push(`${memory.note} (https://learn.microsoft.com/en-us/azure/azure-functions/flex-consumption-plan#instance-memory)`);
  return notes;
}

export const azurePlatform: Platform = {
  id: 'azure',
  title: 'Azure Functions',
  target: (config: Config) => imageTarget('azure', 'azure', config, AZURE_RUNTIMES, { entryFiles: ['function_app.py', 'host.json'], provided: [] }),
  limits: AZURE_LIMITS,
  // https://learn.microsoft.com/en-us/azure/azure-functions/functions-bindings-http-webhook-trigger#limits
  maxPayloadBytes: 100 * MB,
  artifactStore: { kind: 'azure-blob', name: 'Azure Blob Storage', remote: true },
  packageTypes: ['zip'],
  exportFormats: [],
  uploadRoute: () => ({ id: 'object-storage', description: 'a blob container (Flex Consumption deploys from one)' }),
  flags: [],
  configNotes: azureConfigNotes,
  init: { fields: [], configSection: () => [] },
  doctor: async (ctx) => (await import('./doctor.js')).azureChecks(ctx),
};
