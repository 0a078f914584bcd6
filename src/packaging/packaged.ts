import type { Target } from './target.js';

/** How packaged code reaches the platform: in the deploy call, through object storage, or a local store. */
export type UploadRouteId = 'direct' | 'object-storage' | 'none';

/** A model file moved out of the bundle to object storage, fetched and verified at cold start. */
export interface OffloadedArtifact {
  /** Path relative to the model directory. */
  path: string;
  /** Where it is on this machine (what the provider uploads). */
  abs: string;
  bytes: number;
  sha256: string;
  /** Content-addressed key: `<app>/<stage>/artifacts/<sha256>`. */
  key: string;
}

/**
 * What packaging hands a provider to deploy: the written bundle and everything about it a provider
 * needs, and nothing of how the CLI reports it.
 */
export interface PackagedBundle {
  packageType: 'zip';
  path: string;
  manifest: string;
  sha256: string;
  zippedBytes: number;
  unzippedBytes: number;
  files: number;
  upload: UploadRouteId;
  offload: OffloadedArtifact[];
  /** /tmp the function needs (the config's value, raised to fit offloaded artifacts). */
  ephemeralStorageMb: number;
  modelSha256: string;
  target: Target;
}
