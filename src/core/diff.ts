import { type DesiredRoleBinding, type ExistingRoleBinding, isUpToDate, subjectNames } from './bindings.ts';
import { ATHENZ_ROLE_ANNOTATION } from './labels.ts';

/**
 * What must change to turn the existing RoleBindings of one mapping into the desired ones, and
 * the access changes that implies, each with its reason for the audit log and Events.
 *
 * Order matters for access: `apply` (create or update in place) runs before `remove`, so a
 * binding whose ClusterRole changed (a new name, since roleRef is immutable) exists in its new
 * form before the old one goes, and nobody loses access in between.
 */
export type ChangeReason =
  | 'MemberAdded'
  | 'MemberRemoved'
  | 'MemberExpired'
  | 'DriftRepaired'
  | 'NamespaceUnselected'
  | 'RoleUnmapped'
  | 'ClusterRoleChanged'
  | 'RoleClaimedByOlderMapping'
  | 'MappingDeleted';

export interface SubjectChange {
  action: 'add' | 'remove';
  subject: string;
  namespace: string;
  roleBinding: string;
  athenzDomain?: string;
  athenzRole?: string;
  reason: ChangeReason;
}

export interface BindingRef {
  namespace: string;
  name: string;
  /** When set, the delete applies only to this object at this version (a precondition). */
  uid?: string;
  resourceVersion?: string;
  /** The Athenz role the binding maps (its annotation), when known. */
  athenzRole?: string;
}

export interface BindingDiff {
  apply: DesiredRoleBinding[];
  remove: BindingRef[];
  changes: SubjectChange[];
}

export interface DiffContext {
  /** Subjects this operator last applied to a binding (`<ns>/<name>`), when known. An existing
   * binding that differs from it was edited by someone else: its repair is `DriftRepaired`. */
  lastApplied: ReadonlyMap<string, readonly string[]>;
  /** Subjects dropped because their membership expired, per binding key. */
  expired: ReadonlyMap<string, ReadonlySet<string>>;
  /** Why an existing binding that is no longer desired goes away. */
  removalReason: (binding: ExistingRoleBinding) => ChangeReason;
  /** Existing bindings to leave alone although they are not desired: those in namespaces whose
   * desired state is unknown because Athenz failed (fail static), or claimed by another mapping. */
  keep: (binding: ExistingRoleBinding) => boolean;
}

export const bindingKey = (b: BindingRef) => `${b.namespace}/${b.name}`;

export function diffRoleBindings(
  desired: readonly DesiredRoleBinding[],
  existing: readonly ExistingRoleBinding[],
  context: DiffContext,
): BindingDiff {
  const existingByKey = new Map(existing.map((b) => [bindingKey(b), b]));
  const desiredKeys = new Set(desired.map(bindingKey));
  const apply: DesiredRoleBinding[] = [];
  const changes: SubjectChange[] = [];

  for (const want of desired) {
    const key = bindingKey(want);
    const have = existingByKey.get(key);
    if (have && isUpToDate(want, have)) continue;
    apply.push(want);
    const before = new Set(have ? subjectNames(have) : []);
    const after = new Set(subjectNames(want));
    const last = context.lastApplied.get(key);
    const drifted = have !== undefined && last !== undefined && !sameSet(last, before);
    const where = {
      namespace: want.namespace,
      roleBinding: want.name,
      athenzDomain: want.athenzDomain,
      athenzRole: want.athenzRole,
    };
    for (const subject of after) {
      if (!before.has(subject)) {
        // Re-adding what someone removed by hand is a repair; anyone else is a new member.
        const reason = drifted && last.includes(subject) ? 'DriftRepaired' : 'MemberAdded';
        changes.push({ action: 'add', subject, ...where, reason });
      }
    }
    for (const subject of before) {
      if (after.has(subject)) continue;
      const reason =
        drifted && !last?.includes(subject)
          ? 'DriftRepaired'
          : context.expired.get(key)?.has(subject)
            ? 'MemberExpired'
            : 'MemberRemoved';
      changes.push({ action: 'remove', subject, ...where, reason });
    }
  }

  const remove: BindingRef[] = [];
  for (const have of existing) {
    if (desiredKeys.has(bindingKey(have)) || context.keep(have)) continue;
    remove.push({
      namespace: have.namespace,
      name: have.name,
      ...(have.uid ? { uid: have.uid } : {}),
      ...(have.resourceVersion ? { resourceVersion: have.resourceVersion } : {}),
      ...(have.annotations[ATHENZ_ROLE_ANNOTATION]
        ? { athenzRole: have.annotations[ATHENZ_ROLE_ANNOTATION] }
        : {}),
    });
    const reason = context.removalReason(have);
    for (const subject of subjectNames(have)) {
      changes.push({ action: 'remove', subject, namespace: have.namespace, roleBinding: have.name, reason });
    }
  }
  return { apply, remove, changes };
}

function sameSet(a: readonly string[], b: ReadonlySet<string>): boolean {
  return a.length === b.size && a.every((x) => b.has(x));
}
