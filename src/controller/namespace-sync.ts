import { type DesiredRoleBinding, desiredRoleBinding, type MappingRef } from '../core/bindings.ts';
import { CREATED_BY_TAG } from '../core/labels.ts';
import type { MappingSpec } from '../core/mapping.ts';
import { subdomainFor } from '../core/names.ts';
import type { AthenzFailure, NamespaceFailure, PlannedChange } from '../core/status.ts';
import { type GroupMembers, planSubjects, type SkippedMember } from '../core/subjects.ts';
import type { ZmsClient } from '../zms/client.ts';
import { ZmsError } from '../zms/errors.ts';
import type { Role, RoleMember } from '../zms/schemas.ts';
import type { AthenzCache } from './athenz-cache.ts';

/**
 * The Athenz half of syncing one namespace: make sure `<parent>.<ns>` and the mapped roles exist
 * (creating them only after ZMS verified they are missing, and never writing an existing role),
 * then read the members and compute the RoleBindings the namespace should have.
 * Any ZMS trouble yields a failure and no bindings, so the caller leaves the namespace's existing
 * bindings exactly as they are (fail static).
 */
export interface NamespaceSyncInput {
  mapping: MappingRef;
  spec: MappingSpec;
  namespace: string;
  /** Athenz roles another, older mapping manages in this namespace. */
  skipRoles: ReadonlySet<string>;
  operatorPrincipal: string;
  now: Date;
}

export type NamespaceOutcome =
  | {
      ok: true;
      namespace: string;
      domain: string;
      bindings: DesiredRoleBinding[];
      /** Subjects dropped because their membership expired, per binding name. */
      expired: Map<string, Set<string>>;
      skipped: Array<SkippedMember & { athenzRole: string }>;
      nextExpiry?: Date;
      athenzChanges: PlannedChange[];
    }
  | { ok: false; namespace: string; failure: NamespaceFailure; athenz: AthenzFailure };

export async function syncNamespace(
  zms: ZmsClient,
  cache: AthenzCache,
  input: NamespaceSyncInput,
): Promise<NamespaceOutcome> {
  const { spec, namespace } = input;
  const name = subdomainFor(spec.parentDomain, namespace);
  if ('error' in name) {
    return {
      ok: false,
      namespace,
      failure: { namespace, reason: 'DomainNameTooLong', message: name.error },
      athenz: undefined,
    };
  }
  const { domain } = name;
  const athenzChanges: PlannedChange[] = [];
  try {
    let snapshot = await cache.domain(domain);
    /** A domain only planned (dry run) or just created by us has no roles yet but `admin`: its
     * missing roles need no confirming read. */
    let domainIsNew = false;
    if (!snapshot.exists) {
      if (!spec.domain.create) {
        return fail(
          namespace,
          'DomainNotFound',
          `Athenz domain ${domain} does not exist and spec.domain.create is false`,
        );
      }
      athenzChanges.push({ action: 'CreateDomain', namespace, target: domain });
      if (spec.dryRun || (await createSubdomain(zms, spec, namespace, input))) {
        snapshot = { exists: true, roles: new Map() };
        domainIsNew = true;
      } else {
        // Someone else created it meanwhile: read what they made.
        cache.invalidate(domain);
        snapshot = await cache.domain(domain);
        if (!snapshot.exists) {
          return fail(
            namespace,
            'DomainNotFound',
            `Athenz domain ${domain} is missing right after creating it`,
          );
        }
      }
      if (!spec.dryRun) cache.invalidate(domain);
    }

    const bindings: DesiredRoleBinding[] = [];
    const expired = new Map<string, Set<string>>();
    const skipped: Array<SkippedMember & { athenzRole: string }> = [];
    let nextExpiry: Date | undefined;
    for (const mapped of spec.roles) {
      if (input.skipRoles.has(mapped.athenzRole)) continue;
      let role = snapshot.roles.get(mapped.athenzRole);
      if (!role) {
        // Absent from the role list: confirm with a direct read before creating, because a PUT
        // of an existing role would replace (and so wipe) its members.
        role = domainIsNew ? undefined : await zms.getRole(domain, mapped.athenzRole);
        if (!role) {
          athenzChanges.push({
            action: 'CreateRole',
            namespace,
            target: `${domain}:role.${mapped.athenzRole}`,
          });
          if (!spec.dryRun) {
            await zms.putRole(domain, mapped.athenzRole, []);
            cache.invalidate(domain);
          }
        }
      }
      const members = role ? await resolveMembers(cache, domain, mapped.athenzRole, role) : [];
      const groups = await expandGroups(cache, spec, domain, members);
      const plan = planSubjects(members, groups, spec.subjects, input.now);
      const binding = desiredRoleBinding({
        namespace,
        mapping: input.mapping,
        athenzDomain: domain,
        athenzRole: mapped.athenzRole,
        clusterRole: mapped.clusterRole,
        subjects: plan.subjects,
      });
      bindings.push(binding);
      expired.set(binding.name, expiredSubjects(members, groups, spec.subjects.userPrefix, input.now));
      skipped.push(...plan.skipped.map((s) => ({ ...s, athenzRole: mapped.athenzRole })));
      if (plan.nextExpiry && (!nextExpiry || plan.nextExpiry < nextExpiry)) nextExpiry = plan.nextExpiry;
    }
    return {
      ok: true,
      namespace,
      domain,
      bindings,
      expired,
      skipped,
      athenzChanges,
      ...(nextExpiry ? { nextExpiry } : {}),
    };
  } catch (err) {
    if (!(err instanceof ZmsError)) throw err;
    const retryable = err.retryable;
    const athenz: AthenzFailure = retryable
      ? {
          kind:
            err.kind === 'RateLimited' || err.kind === 'InvalidResponse' || err.kind === 'Tls'
              ? err.kind
              : 'Unavailable',
          message: err.message,
        }
      : undefined;
    return {
      ok: false,
      namespace,
      failure: { namespace, reason: `Athenz${err.kind}`, message: err.message },
      athenz,
    };
  }
}

function fail(namespace: string, reason: string, message: string): NamespaceOutcome {
  return { ok: false, namespace, failure: { namespace, reason, message }, athenz: undefined };
}

/** True when this call created the domain; false when someone else did first. */
async function createSubdomain(
  zms: ZmsClient,
  spec: MappingSpec,
  namespace: string,
  input: NamespaceSyncInput,
): Promise<boolean> {
  try {
    await zms.createSubdomain(spec.parentDomain, namespace, {
      // The operator stays an admin: it must be able to create the mapped roles in the domain.
      adminUsers: [...new Set([input.operatorPrincipal, ...spec.domain.adminUsers])],
      description: `Kubernetes namespace ${namespace} (athenz-rbac-operator)`,
      tags: { [CREATED_BY_TAG]: [input.mapping.name] },
    });
    return true;
  } catch (err) {
    // Someone created it between our read and our write: that is the state we wanted.
    if (err instanceof ZmsError && err.kind === 'BadRequest' && /conflict/i.test(err.message)) return false;
    throw err;
  }
}

/** A delegated role has no members of its own: ZMS resolves them through the trust domain. */
async function resolveMembers(
  cache: AthenzCache,
  domain: string,
  roleName: string,
  role: Role,
): Promise<readonly RoleMember[]> {
  if (!role.trust) return role.roleMembers;
  const expanded = await cache.expandedRole(domain, roleName, role.trust);
  return expanded?.roleMembers ?? [];
}

async function expandGroups(
  cache: AthenzCache,
  spec: MappingSpec,
  domain: string,
  members: readonly RoleMember[],
): Promise<GroupMembers> {
  const groups = new Map<string, readonly RoleMember[]>();
  if (spec.subjects.groups !== 'Expand') return groups;
  const names = [
    ...new Set(members.map((m) => m.memberName.toLowerCase()).filter((n) => n.includes(':group.'))),
  ];
  await Promise.all(
    names.map(async (name) => {
      const groupMembers = await cache.group(name, domain);
      if (groupMembers) groups.set(name, groupMembers);
    }),
  );
  return groups;
}

/** Subjects the members would grant if nobody had expired: the difference is what expired. */
function expiredSubjects(
  members: readonly RoleMember[],
  groups: GroupMembers,
  userPrefix: string,
  now: Date,
): Set<string> {
  const expiredNames = new Set<string>();
  const past = (m: RoleMember) =>
    m.expiration !== undefined && m.expiration !== null && m.expiration.getTime() <= now.getTime();
  for (const m of members) {
    const name = m.memberName.toLowerCase();
    if (past(m) && !name.includes(':group.')) expiredNames.add(`${userPrefix}${name}`);
    for (const inner of groups.get(name) ?? []) {
      if (past(m) || past(inner)) expiredNames.add(`${userPrefix}${inner.memberName.toLowerCase()}`);
    }
  }
  return expiredNames;
}
