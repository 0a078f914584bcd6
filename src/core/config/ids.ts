/**
 * The closed lists the config schema and the CLI's flag choices share. Kept apart from schema.ts
 * (which loads zod) so `mlserve --help` and `--version` load no validation code.
 */
export const FRAMEWORKS = ['sklearn', 'onnx', 'torchscript', 'keras', 'huggingface', 'custom'] as const;
export type Framework = (typeof FRAMEWORKS)[number];
export const PROVIDERS = ['local', 'aws', 'azure'] as const;
export type ProviderId = (typeof PROVIDERS)[number];
/** Infrastructure-as-code formats `mlserve export` may write (each platform lists those it writes). */
export const EXPORT_FORMATS = ['cloudformation', 'sam', 'terraform', 'bicep'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];
export const PYTHON_VERSIONS = ['3.9', '3.10', '3.11', '3.12', '3.13'] as const;
export const ARCHITECTURES = ['x86_64', 'arm64'] as const;
/** How code is shipped: a zip, a container image, or (auto) a zip unless it cannot fit. */
export const PACKAGE_TYPES = ['auto', 'zip', 'image'] as const;
/** The stage when none is given, and what a stage name may be (it goes into resource names). */
export const DEFAULT_STAGE = 'dev';
export const STAGE_NAME = /^[a-z][a-z0-9-]{0,19}$/;
