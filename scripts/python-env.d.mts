export function ensurePythonEnv(options?: { quiet?: boolean }): string;
