import {
  ATHENZ_DOMAIN_ANNOTATION,
  ATHENZ_ROLE_ANNOTATION,
  MANAGED_BY_LABEL,
  MAPPING_LABEL,
  OPERATOR_NAME,
} from './labels.ts';
import { roleBindingName } from './names.ts';
import type { RbacSubject } from './subjects.ts';

/**
 * The RoleBindings a mapping wants, and the shape of the ones that exist: plain data, so the
 * planning and diffing below need no Kubernetes client.
 */
export interface MappingRef {
  name: string;
  uid: string;
}

export interface DesiredRoleBinding {
  namespace: string;
  name: string;
  mapping: MappingRef;
  athenzDomain: string;
  athenzRole: string;
  clusterRole: string;
  subjects: RbacSubject[];
}

export interface ExistingRoleBinding {
  namespace: string;
  name: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  roleRef: { apiGroup: string; kind: string; name: string };
  subjects: Array<{
    kind: string;
    name: string;
    apiGroup?: string | undefined;
    namespace?: string | undefined;
  }>;
  ownerUids: string[];
  /** Identity and version of the cached object: preconditions for deleting exactly it. */
  uid?: string;
  resourceVersion?: string;
}

export function desiredRoleBinding(input: Omit<DesiredRoleBinding, 'name'>): DesiredRoleBinding {
  return { ...input, name: roleBindingName(input.athenzRole, input.clusterRole) };
}

/** The server-side-apply body: only the fields the operator owns. */
export function roleBindingManifest(binding: DesiredRoleBinding) {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: {
      name: binding.name,
      namespace: binding.namespace,
      labels: { [MANAGED_BY_LABEL]: OPERATOR_NAME, [MAPPING_LABEL]: binding.mapping.name },
      annotations: {
        [ATHENZ_DOMAIN_ANNOTATION]: binding.athenzDomain,
        [ATHENZ_ROLE_ANNOTATION]: binding.athenzRole,
      },
      ownerReferences: [
        {
          apiVersion: 'rbac.athenz.io/v1alpha1',
          kind: 'AthenzRoleMapping',
          name: binding.mapping.name,
          uid: binding.mapping.uid,
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: binding.clusterRole },
    subjects: binding.subjects,
  };
}

const subjectKey = (s: { kind: string; name: string; namespace?: string | undefined }) =>
  `${s.kind}/${s.namespace ?? ''}/${s.name}`;

/** True when the existing object already carries everything the operator would apply. */
export function isUpToDate(desired: DesiredRoleBinding, existing: ExistingRoleBinding): boolean {
  const manifest = roleBindingManifest(desired);
  const sameMap = (want: Record<string, string>, have: Record<string, string>) =>
    Object.entries(want).every(([k, v]) => have[k] === v);
  return (
    sameMap(manifest.metadata.labels, existing.labels) &&
    sameMap(manifest.metadata.annotations, existing.annotations) &&
    existing.ownerUids.includes(desired.mapping.uid) &&
    existing.roleRef.name === desired.clusterRole &&
    existing.roleRef.kind === 'ClusterRole' &&
    existing.subjects.length === desired.subjects.length &&
    existing.subjects.every(
      (s, i) =>
        subjectKey(s) === subjectKey(desired.subjects[i]!) && s.apiGroup === desired.subjects[i]!.apiGroup,
    )
  );
}

/** The subjects of a binding as names for change accounting: a User by its name, any other kind
 * (added by hand, always removed) as `<Kind>:<namespace/>name`, so its removal is audited too. */
export function subjectNames(binding: {
  subjects: Array<{ kind: string; name: string; namespace?: string | undefined }>;
}): string[] {
  return binding.subjects.map((s) =>
    s.kind === 'User' ? s.name : `${s.kind}:${s.namespace ? `${s.namespace}/` : ''}${s.name}`,
  );
}

/**
 * The existing binding with only the User subjects `keep` accepts, or undefined when that removes
 * nobody. It only ever removes, for the cases where the operator must not grant anything but must
 * still take access away: members expired by the last good answer while Athenz cannot answer,
 * and members gone from Athenz while the spec cannot be acted on.
 */
export function keepOnly(
  existing: ExistingRoleBinding,
  keep: (subject: string) => boolean,
  mapping: MappingRef,
): DesiredRoleBinding | undefined {
  const athenzDomain = existing.annotations[ATHENZ_DOMAIN_ANNOTATION];
  const athenzRole = existing.annotations[ATHENZ_ROLE_ANNOTATION];
  if (!athenzDomain || !athenzRole || existing.roleRef.kind !== 'ClusterRole') return undefined;
  const users = existing.subjects.filter((s) => s.kind === 'User');
  const kept = users.filter((s) => keep(s.name));
  if (kept.length === users.length) return undefined;
  return {
    namespace: existing.namespace,
    name: existing.name,
    mapping,
    athenzDomain,
    athenzRole,
    clusterRole: existing.roleRef.name,
    subjects: kept.map((s) => ({ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: s.name })),
  };
}

/** The largest RoleBinding the operator writes, in bytes of JSON: etcd refuses values over
 * 1.5 MiB and the API server bodies over 3 MiB, so above this a write can only fail. */
export const MAX_BINDING_BYTES = 1_000_000;

/** The size of the object the operator would write. */
export function manifestBytes(binding: DesiredRoleBinding): number {
  return Buffer.byteLength(JSON.stringify(roleBindingManifest(binding)));
}
