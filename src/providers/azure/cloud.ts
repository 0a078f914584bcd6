import type { Config } from '../../core/config/schema.js';

/** One Azure cloud's endpoints: where to sign in, Resource Manager, and the storage and app host suffixes. */
export interface AzureCloud {
  id: Config['azure']['cloud'];
  authorityHost: string;
  resourceManager: string;
  /** The token audience for Resource Manager (and the SCM publish endpoint, which takes the same token). */
  armScope: string;
  storageScope: string;
  storageSuffix: string;
  /** Azure Monitor's Log Analytics query API (Application Insights traces are read through it). */
  logs: string;
  logsScope: string;
}

/**
 * The three clouds mlserve knows, from Microsoft's published endpoints (`az cloud show`; learn.microsoft.com
 * azure/china/resources-developer-guide, azure/azure-government/compare-azure-government-global-azure,
 * and azure-monitor/logs/api/access-api for the Log Analytics query endpoints).
 */
const CLOUDS: Record<AzureCloud['id'], Omit<AzureCloud, 'id'>> = {
  public: {
    authorityHost: 'https://login.microsoftonline.com',
    resourceManager: 'https://management.azure.com',
    armScope: 'https://management.azure.com/.default',
    storageScope: 'https://storage.azure.com/.default',
    storageSuffix: 'core.windows.net',
    logs: 'https://api.loganalytics.io',
    logsScope: 'https://api.loganalytics.io/.default',
  },
  china: {
    authorityHost: 'https://login.chinacloudapi.cn',
    resourceManager: 'https://management.chinacloudapi.cn',
    armScope: 'https://management.chinacloudapi.cn/.default',
    storageScope: 'https://storage.azure.com/.default',
    storageSuffix: 'core.chinacloudapi.cn',
    logs: 'https://api.loganalytics.azure.cn',
    logsScope: 'https://api.loganalytics.azure.cn/.default',
  },
  usgovernment: {
    authorityHost: 'https://login.microsoftonline.us',
    resourceManager: 'https://management.usgovcloudapi.net',
    armScope: 'https://management.usgovcloudapi.net/.default',
    storageScope: 'https://storage.azure.com/.default',
    storageSuffix: 'core.usgovcloudapi.net',
    logs: 'https://api.loganalytics.us',
    logsScope: 'https://api.loganalytics.us/.default',
  },
};

/** The configured cloud, with `azure.resourceManagerEndpoint` and `azure.logsEndpoint` (a private cloud) in place of its own. */
export function cloudOf(azure: Partial<Config['azure']> = {}): AzureCloud {
  const id = azure.cloud ?? 'public';
  const cloud = { id, ...CLOUDS[id] };
  const custom = azure.resourceManagerEndpoint;
  return {
    ...cloud,
    ...(custom ? { resourceManager: custom.replace(/\/+$/, '') } : {}),
    ...(azure.logsEndpoint ? { logs: azure.logsEndpoint.replace(/\/+$/, '') } : {}),
  };
}
