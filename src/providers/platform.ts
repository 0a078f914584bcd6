import type { Check } from '../core/checks.js';
import type { Config, ProviderId } from '../core/config/schema.js';
import type { ExportFormat } from '../core/config/ids.js';
import type { LimitSpec } from '../packaging/limits.js';
import type { UploadRouteId } from '../packaging/packaged.js';
import type { Target } from '../packaging/target.js';

/** A command-line flag a provider adds to every lifecycle command (e.g. AWS's --region). */
export interface ProviderFlag {
  flags: string;
  description: string;
}

/** One value `init` asks for on behalf of a provider (flag first, then a prompt, else the default). */
export interface InitField {
  /** The init flag's option name, e.g. `region` for --region. */
  name: string;
  message: string;
  default(env: Record<string, string | undefined>): string;
}

/** What doctor's provider checks get: the environment and, when one was found, the config. */
export interface DoctorContext {
  env: Record<string, string | undefined>;
  config?: Config;
  /** The host Python mlserve uses (undefined when none was found). */
  hostPython?: string;
}

/** What a platform's container images look like. */
export interface ImageSettings {
  /** The base when image.base is not set, for a Python version, e.g. AWS's public.ecr.aws/lambda/python:3.11. */
  defaultBase(python: string): string;
  /** Where the code goes (Lambda: /var/task). */
  taskRoot: string;
  /** The command: the handler as module.function. */
  handler: string;
}

/** How packaged code reaches the platform: in the deploy call, through object storage, or not at all (local). */
export interface UploadRoute {
  id: UploadRouteId;
  description: string;
}

/**
 * What a platform *is*, as one value: the target the bundle is built for (OS, glibc, wheel tags,
 * entry files, packages the runtime provides), every limit with its source, the artifact store and
 * its key scheme, the package types it takes, its doctor checks and CLI flags. Packaging and the CLI
 * read this value and never branch on a provider id. No SDK is imported by a platform description:
 * it loads with `--help`.
 */
export interface Platform {
  id: ProviderId;
  title: string;
  /** The bundle's target for this config (`hostPython`: the local interpreter's major.minor). */
  target(config: Config, hostPython: string): Target;
  /** Every limit, with `effect` (`error` fails the package, `route` changes the upload, `warn` warns). */
  limits: LimitSpec[];
  /** Largest synchronous request or response body, in bytes. */
  maxPayloadBytes: number;
  /** Where offloaded model files go; `remote`: object storage the function fetches from at cold start (`model.offload: always` needs one). */
  artifactStore: { kind: 's3' | 'azure-blob' | 'local'; name: string; remote: boolean };
  packageTypes: readonly ('zip' | 'image')[];
  /** Infrastructure-as-code formats `mlserve export` writes for this platform (none: export refuses, naming the ones that exist). */
  exportFormats: readonly ExportFormat[];
  /** How the code reaches the platform: by the zip's size, or an image (through a registry). */
  uploadRoute(zippedBytes: number | null, packageType?: 'zip' | 'image'): UploadRoute;
  /** Container images (when `packageTypes` has 'image'): the default base, where code goes, the command. */
  image?: ImageSettings;
  flags: ProviderFlag[];
  /** What this platform does differently from the config's values (a memory rounded, a timeout capped), each with its source: package warns. */
  configNotes?(config: Config): string[];
  init: { fields: InitField[]; configSection(values: Record<string, string>): string[] };
  doctor(ctx: DoctorContext): Promise<Check[]>;
}
