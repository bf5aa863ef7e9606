import type * as k8s from '@kubernetes/client-node';
import type { ExistingRoleBinding } from '../core/bindings.ts';
import { type Mapping, parseMappingSpec } from '../core/mapping.ts';
import type { NamespaceInfo } from '../core/selection.ts';
import type { MappingStatus } from '../core/status.ts';

/** The AthenzRoleMapping resource and conversions from API objects to the core's plain types. */
export const GROUP = 'rbac.athenz.io';
export const VERSION = 'v1alpha1';
export const PLURAL = 'athenzrolemappings';
export const KIND = 'AthenzRoleMapping';

export interface MappingObject extends k8s.KubernetesObject {
  spec?: unknown;
  status?: Partial<MappingStatus>;
}

export function toMapping(obj: MappingObject): Mapping {
  const meta = obj.metadata ?? {};
  const parsed = parseMappingSpec(obj.spec);
  return {
    name: meta.name ?? '',
    uid: meta.uid ?? '',
    generation: meta.generation ?? 0,
    resourceVersion: meta.resourceVersion ?? '',
    creationTimestamp: new Date(meta.creationTimestamp ?? 0),
    deleting: Boolean(meta.deletionTimestamp),
    finalizers: meta.finalizers ?? [],
    ...('spec' in parsed ? { spec: parsed.spec } : { specError: parsed.error }),
  };
}

export function toNamespaceInfo(ns: k8s.V1Namespace): NamespaceInfo {
  return {
    name: ns.metadata?.name ?? '',
    labels: ns.metadata?.labels ?? {},
    terminating: Boolean(ns.metadata?.deletionTimestamp) || ns.status?.phase === 'Terminating',
  };
}

export function toExistingRoleBinding(rb: k8s.V1RoleBinding): ExistingRoleBinding {
  return {
    namespace: rb.metadata?.namespace ?? '',
    name: rb.metadata?.name ?? '',
    labels: rb.metadata?.labels ?? {},
    annotations: rb.metadata?.annotations ?? {},
    roleRef: { apiGroup: rb.roleRef.apiGroup ?? '', kind: rb.roleRef.kind, name: rb.roleRef.name },
    subjects: (rb.subjects ?? []).map((s) => ({
      kind: s.kind,
      name: s.name,
      apiGroup: s.apiGroup,
      namespace: s.namespace,
    })),
    ownerUids: (rb.metadata?.ownerReferences ?? []).map((o) => o.uid),
    ...(rb.metadata?.uid ? { uid: rb.metadata.uid } : {}),
    ...(rb.metadata?.resourceVersion ? { resourceVersion: rb.metadata.resourceVersion } : {}),
  };
}
