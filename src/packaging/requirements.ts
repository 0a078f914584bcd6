import { MlserveError } from '../core/errors.js';
import type { Framework } from '../core/config/schema.js';

/** PEP 503 normalized project name. */
export function normalizeName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, '-');
}

const NAME = /^\s*([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?\s*(.*)$/;

export interface Requirement {
  line: string;
  name?: string;
  specifier?: string;
}

export function parseRequirements(text: string): Requirement[] {
  return text
    .split(/\r?\n/)
    .map((raw) => raw.replace(/\s+#.*$/, '').trim())
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      if (line.startsWith('-') || line.includes('://')) return { line };
      const m = NAME.exec(line);
      if (!m) return { line };
      const req: Requirement = { line, name: normalizeName(m[1]!) };
      const spec = m[3]!.split(';')[0]!.trim();
      if (spec) req.specifier = spec;
      return req;
    });
}

/** What each loader imports. The handler's input checks use numpy, which torch (unlike the others) does not bring. */
const FRAMEWORK_PACKAGES: Record<Framework, string[]> = {
  sklearn: ['scikit-learn'],
  onnx: ['onnxruntime'],
  torchscript: ['torch', 'numpy'],
  keras: ['keras'],
  huggingface: ['transformers', 'torch', 'numpy'],
  custom: [],
};

/**
 * The requirements actually installed: the user's, plus the framework's package when missing, with
 * scikit-learn pinned to the version the model was pickled with (a model loaded by another version
 * can predict differently or not load at all).
 */
export function resolveRequirements(
  text: string,
  framework: Framework,
  sklearnVersion: string | undefined,
  file: string,
): { text: string; added: string[]; pinned: string[]; names: Set<string> } {
  const reqs = parseRequirements(text);
  const added: string[] = [];
  const pinned: string[] = [];
  const existing = framework === 'sklearn' ? reqs.find((r) => r.name === 'scikit-learn') : undefined;
  if (framework === 'sklearn' && sklearnVersion) {
    if (!existing) {
      reqs.push({ line: `scikit-learn==${sklearnVersion}`, name: 'scikit-learn', specifier: `==${sklearnVersion}` });
      added.push(`scikit-learn==${sklearnVersion}`);
    } else {
      const exact = /^==\s*([^,\s]+)$/.exec(existing.specifier ?? '');
      if (exact && exact[1] !== sklearnVersion) {
        throw new MlserveError('DEPENDENCY_CONFLICT', `${file} pins scikit-learn==${exact[1]}, but the model was saved with scikit-learn ${sklearnVersion}`, {
          hint: `pin scikit-learn==${sklearnVersion} in ${file}, or re-save the model with scikit-learn ${exact[1]}: a model loaded by another version can predict differently or fail to load`,
        });
      }
      if (!exact) {
        existing.line = `${existing.line.split(';')[0]!.trim()}${existing.specifier ? ',' : ''}==${sklearnVersion}`;
        pinned.push(`scikit-learn==${sklearnVersion}`);
      }
    }
  } else {
    for (const pkg of FRAMEWORK_PACKAGES[framework].filter((p) => !reqs.some((r) => r.name === p))) {
      reqs.push({ line: pkg, name: pkg });
      added.push(pkg);
    }
  }
  return {
    text: reqs.map((r) => r.line).join('\n') + (reqs.length ? '\n' : ''),
    added,
    pinned,
    names: new Set(reqs.map((r) => r.name).filter((n): n is string => !!n)),
  };
}
