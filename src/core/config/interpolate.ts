import { parse as parseYamlScalar } from 'yaml';

/** `${env:NAME}` or `${env:NAME, fallback}`. */
const REF = /\$\{env:([A-Za-z_][A-Za-z0-9_]*)(?:\s*,\s*([^}]*))?\}/g;

export interface Unresolved {
  path: (string | number)[];
  variable: string;
}

/**
 * Replace `${env:NAME}` references in every string of `value`. A string that is one whole reference
 * is re-read as a YAML scalar, so `memory: ${env:MEM}` gives a number. Returns the new value, the
 * variables that were missing (with where), and the paths whose values came from the environment.
 */
export function interpolate(
  value: unknown,
  env: Record<string, string | undefined>,
  path: (string | number)[] = [],
  out: { missing: Unresolved[]; fromEnv: string[] } = { missing: [], fromEnv: [] },
): { value: unknown; missing: Unresolved[]; fromEnv: string[] } {
  if (typeof value === 'string') {
    if (!value.includes('${env:')) return { value, ...out };
    let whole = false;
    const replaced = value.replace(REF, (match, name: string, fallback: string | undefined) => {
      whole = match === value;
      const found = env[name];
      if (found !== undefined) return found;
      if (fallback !== undefined) return stripQuotes(fallback.trim());
      out.missing.push({ path, variable: name });
      return '';
    });
    out.fromEnv.push(path.join('.'));
    return { value: whole ? parseYamlScalar(replaced) ?? replaced : replaced, ...out };
  }
  if (Array.isArray(value)) {
    return { value: value.map((v, i) => interpolate(v, env, [...path, i], out).value), ...out };
  }
  if (value && typeof value === 'object') {
    const result: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) result[k] = interpolate(v, env, [...path, k], out).value;
    return { value: result, ...out };
  }
  return { value, ...out };
}

function stripQuotes(s: string): string {
  return /^(['"]).*\1$/.test(s) ? s.slice(1, -1) : s;
}
