import type { Target } from './target.js';

/** How packaged code reaches the platform: in the deploy call, through object storage, or a local store. */
export type UploadRouteId = 'direct' | 'object-storage' | 'registry' | 'none';

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
  packageType: 'zip' | 'image';
  /** The zip, or (an image) its OCI image layout directory. */
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
  /** Set for images: what a provider pushes and what the local provider unpacks. */
  image?: PackagedImage;
}

/** A container image package: an OCI layout on disk, mlserve's layers in it, and the base it is built on. */
export interface PackagedImage {
  layout: string;
  tag: string;
  /** sha256:… of the manifest: the image's identity (its digest in every registry). */
  digest: string;
  /** The base, pinned by digest (`registry/repo@sha256:…`), and what the config named. */
  base: string;
  requested: string;
  /** Where the code is inside the image (its layers put every file under it). */
  taskRoot: string;
  /** mlserve's own layers, bottom to top (the base's come first and are not listed). */
  layers: { name: string; digest: string; size: number; uncompressedSize: number; files: number; path: string; reused: boolean }[];
  /** Uncompressed size of the whole image, the base included (what Lambda's 10 GB limit counts). */
  uncompressedBytes: number;
}
