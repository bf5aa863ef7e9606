import { matchesSelector } from './label-selector.ts';
import type { MappingSpec } from './mapping.ts';

/** The namespaces a mapping selects: matched by its selector, minus the operator-wide exclusions
 * (system namespaces, the operator's own) and the mapping's own `excludedNamespaces`.
 * A namespace being deleted is not selected: its bindings go with it. */
export interface NamespaceInfo {
  name: string;
  labels: Record<string, string>;
  terminating: boolean;
}

export const DEFAULT_EXCLUDED_NAMESPACES = ['kube-system', 'kube-public', 'kube-node-lease'];

export function selectNamespaces(
  spec: Pick<MappingSpec, 'namespaceSelector' | 'excludedNamespaces'>,
  namespaces: readonly NamespaceInfo[],
  operatorExcluded: ReadonlySet<string>,
): string[] {
  const excluded = new Set(spec.excludedNamespaces);
  return namespaces
    .filter((ns) => !ns.terminating && !operatorExcluded.has(ns.name) && !excluded.has(ns.name))
    .filter((ns) => matchesSelector(spec.namespaceSelector, ns.labels))
    .map((ns) => ns.name)
    .sort();
}
