import { isMap, isPair, isScalar, type Document, type LineCounter, type Node } from 'yaml';

type Path = readonly (string | number)[];

/** Line and column (1-based) of the YAML node at `path`, or of its nearest existing ancestor. */
export function locate(
  doc: Document,
  lines: LineCounter,
  path: Path,
  options: { key?: boolean } = {},
): { line: number; col: number; exact: boolean } {
  for (let depth = path.length; depth >= 0; depth--) {
    const prefix = path.slice(0, depth);
    const node = depth === 0 ? doc.contents : (doc.getIn(prefix, true) as Node | undefined);
    if (!node) continue;
    const exact = depth === path.length;
    // For unknown or misspelt keys, point at the key itself rather than its value.
    const keyNode = options.key && exact && depth > 0 ? keyOf(doc, prefix) : undefined;
    const offset = (keyNode ?? node).range?.[0];
    if (offset === undefined) continue;
    const pos = lines.linePos(offset);
    return { line: pos.line, col: pos.col, exact };
  }
  return { line: 1, col: 1, exact: false };
}

function keyOf(doc: Document, path: Path): Node | undefined {
  const parent = path.length === 1 ? doc.contents : doc.getIn(path.slice(0, -1), true);
  if (!isMap(parent)) return undefined;
  const name = path[path.length - 1];
  for (const item of parent.items) {
    if (isPair(item) && isScalar(item.key) && item.key.value === name) return item.key as Node;
  }
  return undefined;
}
