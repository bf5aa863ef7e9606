import { type DesiredRoleBinding, desiredRoleBinding, type MappingRef } from '../core/bindings.ts';
import { CREATED_BY_TAG } from '../core/labels.ts';
import type { MappingSpec } from '../core/mapping.ts';
import { subdomainFor } from '../core/names.ts';
import type { AthenzFailure, NamespaceFailure, PlannedChange } from '../core/status.ts';
import { type GroupMembers, planSubjects, type SkippedMember } from '../core/subjects.ts';
import type { ZmsClient } from '../zms/client.ts';
import { unreachableKind, ZmsError } from '../zms/errors.ts';
import type { Role, RoleMember } from '../zms/schemas.ts';
import type { AthenzCache, AthenzReader, DomainSnapshot } from './athenz-cache.ts';

/**
 * The Athenz half of syncing one namespace: make sure `<parent>.<ns>` and the mapped roles exist
 * (creating them only after ZMS verified they are missing, and never writing an existing role),
 * then read the members and compute the RoleBindings the namespace should have.
 * Any ZMS trouble yields a failure and no bindings, so the caller leaves the namespace's existing
 * bindings as they are (fail static), except for one thing: members whose expiry has passed
 * according to the last good answer (`expiredWhileFailing`) may still be removed.
 */
export interface NamespaceSyncInput {
  mapping: MappingRef;
  spec: MappingSpec;
  namespace: string;
  /** Athenz roles another, older mapping manages in this namespace. */
  skipRoles: ReadonlySet<string>;
  operatorPrincipal: string;
  /** Written in the created-by tag of a domain this call creates: who may delete it later. */
  creator: string;
  /** Read Athenz only: no domain or role is created (a spec the operator may not act on fully). */
  readOnly?: boolean;
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
  | {
      ok: false;
      namespace: string;
      failure: NamespaceFailure;
      athenz: AthenzFailure;
      /** How long ZMS asked us to wait (Retry-After). */
      retryAfterMs?: number;
      /** From the last good answers: subjects whose membership has expired since, per binding. */
      expiredWhileFailing?: Map<string, Set<string>>;
      /** ZMS verified the domain missing: a valid answer that nobody is a member of its roles. */
      verifiedMissing?: boolean;
      nextExpiry?: Date;
    };

type Planned = Omit<Extract<NamespaceOutcome, { ok: true }>, 'ok' | 'namespace' | 'domain' | 'athenzChanges'>;

export async function syncNamespace(
  zms: ZmsClient,
  cache: AthenzCache,
  input: NamespaceSyncInput,
): Promise<NamespaceOutcome> {
  const { spec, namespace } = input;
  const name = subdomainFor(spec.parentDomain, namespace);
  if ('error' in name) return fail(namespace, 'DomainNameTooLong', name.error);
  const { domain } = name;
  const athenzChanges: PlannedChange[] = [];
  try {
    const ensured = await ensureDomain(zms, cache, input, domain, athenzChanges);
    if ('failure' in ensured) return ensured.failure;
    const { snapshot, isNew } = ensured;
    // Read-only over a missing domain: nobody is a member of anything there.
    if (!snapshot.exists)
      return { ok: true, namespace, domain, athenzChanges, bindings: [], expired: new Map(), skipped: [] };
    const planned = await planBindings(cache, input, domain, async (role) => {
      return snapshot.roles.get(role) ?? ensureRole(zms, cache, input, domain, role, isNew, athenzChanges);
    });
    return { ok: true, namespace, domain, athenzChanges, ...planned };
  } catch (err) {
    if (!(err instanceof ZmsError)) throw err;
    return { ...zmsFailure(namespace, err), ...(await expiryFromLastGood(cache, input, domain)) };
  }
}

/** The domain's snapshot, creating the domain first when ZMS verified it is missing. */
async function ensureDomain(
  zms: ZmsClient,
  cache: AthenzCache,
  input: NamespaceSyncInput,
  domain: string,
  athenzChanges: PlannedChange[],
): Promise<{ snapshot: DomainSnapshot; isNew: boolean } | { failure: NamespaceOutcome }> {
  const { spec, namespace } = input;
  const snapshot = await cache.domain(domain);
  if (snapshot.exists || input.readOnly) return { snapshot, isNew: false };
  if (!spec.domain.create) {
    return {
      failure: fail(
        namespace,
        'DomainNotFound',
        `Athenz domain ${domain} does not exist and spec.domain.create is false: its bindings have no subjects`,
        { verifiedMissing: true },
      ),
    };
  }
  athenzChanges.push({ action: 'CreateDomain', namespace, target: domain });
  // A domain only planned (dry run) or just created by us has no roles yet but `admin`.
  if (spec.dryRun) return { snapshot: { exists: true, roles: new Map() }, isNew: true };
  const created = await createSubdomain(zms, spec, namespace, input);
  cache.invalidate(domain);
  if (created) return { snapshot: { exists: true, roles: new Map() }, isNew: true };
  // Someone else created it meanwhile: read what they made.
  const theirs = await cache.domain(domain);
  if (!theirs.exists) {
    return {
      failure: fail(
        namespace,
        'DomainNotFound',
        `Athenz domain ${domain} is missing right after creating it`,
      ),
    };
  }
  return { snapshot: theirs, isNew: false };
}

/**
 * A mapped role absent from the domain's role list. A PUT of an existing role would replace (and
 * so wipe) its members, so the role is read directly, right before the PUT, and created only on
 * a verified 404. Only a dry run over a domain it has not created skips the read.
 */
async function ensureRole(
  zms: ZmsClient,
  cache: AthenzCache,
  input: NamespaceSyncInput,
  domain: string,
  role: string,
  domainIsNew: boolean,
  athenzChanges: PlannedChange[],
): Promise<Role | undefined> {
  const { spec, namespace } = input;
  if (!(spec.dryRun && domainIsNew)) {
    const found = await zms.getRole(domain, role);
    if (found) return found;
  }
  if (input.readOnly) return undefined;
  athenzChanges.push({ action: 'CreateRole', namespace, target: `${domain}:role.${role}` });
  if (spec.dryRun) return undefined;
  await zms.putRole(domain, role, []);
  cache.invalidate(domain);
  return undefined;
}

/** The bindings of one namespace from its roles' members, read through `reader`. */
async function planBindings(
  reader: AthenzReader,
  input: NamespaceSyncInput,
  domain: string,
  roleOf: (athenzRole: string) => Promise<Role | undefined>,
): Promise<Planned> {
  const { spec } = input;
  const bindings: DesiredRoleBinding[] = [];
  const expired = new Map<string, Set<string>>();
  const skipped: Array<SkippedMember & { athenzRole: string }> = [];
  let nextExpiry: Date | undefined;
  for (const mapped of spec.roles) {
    if (input.skipRoles.has(mapped.athenzRole)) continue;
    const role = await roleOf(mapped.athenzRole);
    const members = role ? await resolveMembers(reader, domain, mapped.athenzRole, role) : [];
    const groups = await expandGroups(reader, spec, domain, members);
    const plan = planSubjects(members, groups, spec.subjects, input.now);
    const binding = desiredRoleBinding({
      namespace: input.namespace,
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
  return { bindings, expired, skipped, ...(nextExpiry ? { nextExpiry } : {}) };
}

/** While ZMS fails: which members the last good answers say have expired by now. Nothing is
 * created and nothing missing is guessed: without a full earlier answer there is no result. */
async function expiryFromLastGood(
  cache: AthenzCache,
  input: NamespaceSyncInput,
  domain: string,
): Promise<{ expiredWhileFailing?: Map<string, Set<string>>; nextExpiry?: Date }> {
  const reader = cache.lastGood();
  try {
    const snapshot = await reader.domain(domain);
    if (!snapshot.exists) return {};
    const planned = await planBindings(reader, input, domain, async (role) => snapshot.roles.get(role));
    return {
      expiredWhileFailing: planned.expired,
      ...(planned.nextExpiry ? { nextExpiry: planned.nextExpiry } : {}),
    };
  } catch {
    return {};
  }
}

function fail(
  namespace: string,
  reason: string,
  message: string,
  extra: Pick<Extract<NamespaceOutcome, { ok: false }>, 'verifiedMissing'> = {},
): NamespaceOutcome {
  return { ok: false, namespace, failure: { namespace, reason, message }, athenz: undefined, ...extra };
}

function zmsFailure(namespace: string, err: ZmsError): Extract<NamespaceOutcome, { ok: false }> {
  const athenz: AthenzFailure = err.retryable
    ? { kind: unreachableKind(err), message: err.message }
    : undefined;
  return {
    ok: false,
    namespace,
    failure: { namespace, reason: `Athenz${err.kind}`, message: err.message },
    athenz,
    ...(err.retryAfterMs !== undefined ? { retryAfterMs: err.retryAfterMs } : {}),
  };
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
      tags: { [CREATED_BY_TAG]: [input.creator] },
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
  reader: AthenzReader,
  domain: string,
  roleName: string,
  role: Role,
): Promise<readonly RoleMember[]> {
  if (!role.trust) return role.roleMembers;
  const expanded = await reader.expandedRole(domain, roleName, role.trust);
  return expanded?.roleMembers ?? [];
}

async function expandGroups(
  reader: AthenzReader,
  spec: MappingSpec,
  domain: string,
  members: readonly RoleMember[],
): Promise<GroupMembers> {
  const groups = new Map<string, readonly RoleMember[]>();
  if (spec.subjects.groups !== 'Expand') return groups;
  const names = [
    ...new Set(members.map((m) => m.memberName.toLowerCase()).filter((n) => n.includes(':group.'))),
  ];
  // Settle every read before failing, so no request of this namespace outlives its sync.
  const results = await Promise.allSettled(
    names.map(async (name) => {
      const groupMembers = await reader.group(name, domain);
      if (groupMembers) groups.set(name, groupMembers);
    }),
  );
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
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
