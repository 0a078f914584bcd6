/**
 * The one error type mlserve raises on purpose. Every failure a user can act on carries a stable
 * `code` (what scripts and tests branch on), a lowercase message naming the wrong value, and a
 * `hint` saying what to change. Classify by `code`, never by message text.
 */
export type ErrorCode =
  | 'USAGE'
  | 'CONFIG_NOT_FOUND'
  | 'CONFIG_INVALID'
  | 'CONFIG_EXISTS'
  | 'MODEL_NOT_FOUND'
  | 'MODEL_AMBIGUOUS'
  | 'MODEL_UNSUPPORTED'
  | 'NOT_INTERACTIVE'
  | 'ABORTED'
  | 'INTERRUPTED'
  | 'PYTHON_NOT_FOUND'
  | 'UNSAFE_PATH'
  | 'DEPENDENCY_RESOLUTION'
  | 'DEPENDENCY_CONFLICT'
  | 'ARCH_MISMATCH'
  | 'BUNDLE_TOO_LARGE'
  | 'PREFLIGHT_FAILED'
  | 'NOT_DEPLOYED'
  | 'FUNCTION_ERROR'
  | 'INVOKE_ASSERTION'
  | 'PAYLOAD_TOO_LARGE'
  | 'SERVER_ERROR'
  | 'PROVIDER_AUTH'
  | 'PROVIDER_CONFIG'
  | 'PROVIDER_ERROR'
  | 'NOT_OWNED'
  | 'CANARY_ROLLED_BACK'
  | 'TUNE_NO_FIT'
  | 'REGISTRY_ERROR'
  | 'INTERNAL';

/** Codes that mean "the user asked for something malformed": exit 2. */
const USAGE_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'USAGE',
  'CONFIG_NOT_FOUND',
  'CONFIG_INVALID',
  'CONFIG_EXISTS',
  'MODEL_NOT_FOUND',
  'MODEL_AMBIGUOUS',
  'MODEL_UNSUPPORTED',
  'NOT_INTERACTIVE',
  'UNSAFE_PATH',
  'DEPENDENCY_CONFLICT',
  'PAYLOAD_TOO_LARGE',
  'PROVIDER_CONFIG',
]);

/** One located problem in a config file, printed as `file:line:col  path  message`. */
export interface Problem {
  file: string;
  line: number;
  col: number;
  /** Dotted path of the offending key, e.g. `resources.memory`; empty for file-level problems. */
  path: string;
  message: string;
}

export interface MlserveErrorOptions {
  hint?: string;
  cause?: unknown;
  problems?: Problem[];
  /** Extra machine-readable facts for `--json` (never secrets). */
  details?: Record<string, unknown>;
}

export class MlserveError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly problems: Problem[];
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: MlserveErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'MlserveError';
    this.code = code;
    this.hint = options.hint;
    this.problems = options.problems ?? [];
    this.details = options.details;
  }
}

/** Exit code for an error: 2 for usage/config problems, 130 for Ctrl-C, 1 for everything else. */
export function exitCodeFor(error: unknown): number {
  if (error instanceof MlserveError) {
    if (error.code === 'INTERRUPTED') return 130;
    return USAGE_CODES.has(error.code) ? 2 : 1;
  }
  return 1;
}

/** Wrap anything thrown into an MlserveError, keeping the original as `cause`. */
export function toMlserveError(error: unknown): MlserveError {
  if (error instanceof MlserveError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new MlserveError('INTERNAL', `unexpected error: ${message}`, {
    hint: 'run again with --debug for the stack trace, and report it if it persists',
    cause: error,
  });
}

/** `file:line:col  path  message`, the one format every config problem is printed in. */
export function formatProblem(p: Problem): string {
  const where = `${p.file}:${p.line}:${p.col}`;
  return p.path ? `${where}  ${p.path}  ${p.message}` : `${where}  ${p.message}`;
}
