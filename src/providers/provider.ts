import type { LoadedConfig } from '../core/config/load.js';
import type { ExportFormat } from '../core/config/ids.js';
import type { ProviderId } from '../core/config/schema.js';
import type { Reporter } from '../core/reporter.js';
import type { PackagedBundle } from '../packaging/packaged.js';

/** One published, immutable version. */
export interface VersionInfo {
  version: string;
  created: string;
  bundleSha256: string;
  modelSha256: string;
  /** Aliases (stages) pointing at it, with the share of traffic each sends it (1 = all). */
  aliases: { name: string; weight: number }[];
}

/** Where the stage's alias sends traffic. */
export interface AliasState {
  alias: string;
  version: string | null;
  /** A canary: this version gets `weight` (0–1) of the traffic. */
  canary?: { version: string; weight: number };
}

export interface DeployResult {
  version: string;
  /** False when the bundle was already deployed (content-addressed): nothing new was published. */
  published: boolean;
  alias: AliasState;
  endpoint: string;
  /** What this deploy uploaded (object keys); empty when everything was already there. */
  uploaded: string[];
  /** How many requests the function serves at once, in words ("no reserved concurrency: …"). */
  concurrency: string;
  notes: string[];
}

/** A request to the deployed function: a raw event, or an HTTP request turned into one. */
export type InvokeRequest =
  | { kind: 'event'; event: unknown; qualifier?: string }
  | { kind: 'http'; method: string; path: string; body?: string; headers?: Record<string, string>; qualifier?: string };

export interface InvokeResult {
  /** HTTP status for http requests (and for direct payloads answering {statusCode}). */
  status?: number;
  /** The response body (parsed JSON when it is JSON). */
  body: unknown;
  /** Set when the function raised, timed out, or its worker died. */
  functionError?: { type: string; message: string };
  version: string;
  logTail?: string;
}

export interface ProviderContext {
  loaded: LoadedConfig;
  env: Record<string, string | undefined>;
  reporter: Reporter;
  /** Provider flags from the command line (e.g. AWS's region and profile), by option name. */
  flags?: Record<string, unknown>;
  signal?: AbortSignal;
}

/** What every provider implements. Only `providers/<id>/` knows its SDK. */
export interface Provider {
  readonly id: ProviderId;
  deploy(bundle: PackagedBundle, options: { promote: boolean }): Promise<DeployResult>;
  versions(): Promise<{ versions: VersionInfo[]; alias: AliasState }>;
  promote(version: string | undefined, options: { weight?: number; finish?: boolean }): Promise<AliasState>;
  rollback(): Promise<AliasState>;
  invoke(request: InvokeRequest): Promise<InvokeResult>;
  destroy(options: { dryRun: boolean }): Promise<{ removed: string[] }>;
  /** Delete versions beyond the newest `keep` that no alias points at (canary included). */
  prune(keep: number, options: { dryRun: boolean }): Promise<{ deleted: string[]; kept: string[] }>;
  /** Print log lines since `since` (epoch ms); with `follow`, keep printing until the signal aborts. */
  logs(since: number, follow: boolean, print: (line: LogLine) => void): Promise<void>;
  /**
   * What a deploy would create or change, without changing anything (providers that plan: Azure);
   * `offline`: no credentials or network, everything as if nothing existed yet.
   */
  plan?(options: { offline: boolean }): Promise<DeployPlan>;
  /** The stage's traffic, errors, latency and estimated cost per version over a period (providers that measure). */
  status?(range: { since: number; until: number }): Promise<StatusReport>;
  /**
   * Run the stage's current version at `memoryMb` (its CPU share with it): one cold request, then
   * `requests` warm ones, each timed; what it created is removed (providers that tune).
   */
  measure?(memoryMb: number, o: { requests: number; request: { method: string; path: string; body: string } }): Promise<TuneSample>;
  /** Write the deployment as infrastructure as code (the platform's `exportFormats`). */
  export?(bundle: PackagedBundle, options: ExportOptions): Promise<ExportResult>;
  /** Run the endpoint on this machine (providers that can: the local one). */
  serve?(options: ServeOptions): Promise<ServeHandle>;
}

export interface ServeOptions {
  port: number;
  /** Serve this version instead of following the stage alias. */
  version?: number;
  onLog?: (line: string, source: string) => void;
  onAccess?: (line: string) => void;
}

export interface ServeHandle {
  url: string;
  version: string;
  initMs: number;
  stop(): Promise<void>;
}

export interface LogLine {
  time: string;
  /** Where it came from: a log stream, or `v<version> <pid>` locally. */
  stream: string;
  message: string;
}

/** A deploy's plan: every resource it would send, with how (create, update) and exactly what. */
export interface DeployPlan {
  resources: { action: string; type: string; name: string; id: string; apiVersion: string; body: Record<string, unknown> }[];
  notes: string[];
}

export interface ExportOptions {
  format: ExportFormat;
  /** The directory the files are written to. */
  out: string;
  /** Upload the code and offloaded artifacts to the artifacts bucket (else they are written beside the template). */
  upload: boolean;
}

export interface ExportResult {
  format: ExportFormat;
  /** Every file written, relative to `out`, in order. */
  files: string[];
  /** Object keys uploaded (empty when already there, or not uploading). */
  uploaded: string[];
  /** Files written beside the template for someone to upload, under these exact keys. */
  toUpload: { key: string; file: string; sha256: string }[];
  /** The bucket the template's parameter defaults to, when known. */
  bucket?: string;
  notes: string[];
}

/** One version's figures over the period (null: the platform does not measure it). */
export interface StatusRow {
  version: string;
  /** Its share of the stage's traffic now (1 = all). */
  weight: number;
  invocations: number;
  errors: number;
  /** Errors / invocations, 0–1 (0 without invocations). */
  errorRate: number;
  throttles: number | null;
  coldStarts: number | null;
  p50: number | null;
  p90: number | null;
  p99: number | null;
  averageMs: number | null;
  maxMemoryMb: number | null;
  /** List-price estimate for the period, in US dollars. */
  costUsd: number;
}

export interface StatusReport {
  since: string;
  until: string;
  rows: StatusRow[];
  /** The stage over time: requests and p99 per bucket, oldest first. */
  series: { time: string; requests: number; p99: number | null }[];
  notes: string[];
}

/** One memory size's run for `mlserve tune`. */
export interface TuneSample {
  memoryMb: number;
  /** Warm requests' durations (billed, where the platform bills), ms. */
  durations: number[];
  coldMs: number | null;
  maxMemoryMb: number | null;
  /** Why this size cannot serve the model (out of memory, a timeout, an error), when it cannot. */
  failure?: string;
  /** How it was measured (the CPU limit, say). */
  method: string;
}
