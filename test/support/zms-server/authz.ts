import type { DomainRecord, MemberRecord, RoleRecord } from './model.ts';
import { classifyMember, fullRoleName } from './names.ts';
import type { ZmsStore } from './store.ts';

/**
 * ZMS policy evaluation: does `principal` get `action` on `resource` from the policies of the
 * resource's domain? DENY beats ALLOW; actions, resources and role names in assertions are
 * case-insensitive globs. Membership counts only while a member is not system-disabled and
 * not expired; `*` matches everyone, a trailing `*` is a prefix match, a group member matches
 * the group's members, and a delegated role (`trust`) takes its members from the trust
 * domain's `assume_role` assertions.
 */
export function isAllowed(
  store: ZmsStore,
  principal: string,
  action: string,
  resource: string,
  domainName: string,
): boolean {
  const domain = store.getDomain(domainName);
  if (!domain) return false;
  const now = store.clock.now();
  let allowed = false;
  for (const policy of domain.policies.values()) {
    for (const assertion of policy.assertions) {
      // Once allowed, only a DENY can change the answer.
      if (allowed && assertion.effect === 'ALLOW') continue;
      if (!globMatches(assertion.action, action) || !globMatches(assertion.resource, resource)) continue;
      if (
        !rolesMatching(domain, assertion.role).some((role) => hasMember(store, domain, role, principal, now))
      ) {
        continue;
      }
      if (assertion.effect === 'DENY') return false;
      allowed = true;
    }
  }
  return allowed;
}

/** True when `principal` is an active member of the role (directly, by wildcard, group or trust). */
export function hasMember(
  store: ZmsStore,
  domain: DomainRecord,
  role: RoleRecord,
  principal: string,
  now: number,
): boolean {
  if (role.trust) {
    const trustDomain = store.getDomain(role.trust);
    if (!trustDomain) return false;
    return assumableRoles(trustDomain, fullRoleName(domain.name, role.name)).some(
      // A role in the trust domain that is itself delegated does not delegate further.
      (trusted) => !trusted.trust && membersMatch(store, trusted.members, principal, now),
    );
  }
  return membersMatch(store, role.members, principal, now);
}

function membersMatch(
  store: ZmsStore,
  members: Map<string, MemberRecord>,
  principal: string,
  now: number,
): boolean {
  const direct = members.get(principal);
  if (direct && isEffective(direct, now)) return true;
  for (const member of members.values()) {
    if (!isEffective(member, now)) continue;
    const name = member.memberName;
    if (name === principal) continue;
    if (name.endsWith('*')) {
      if (principal.startsWith(name.slice(0, -1))) return true;
      continue;
    }
    const classified = name.includes(':group.') ? classifyMember(name) : undefined;
    if (classified?.type !== 'group') continue;
    const group = store.getDomain(classified.domain!)?.groups.get(classified.group!);
    const inGroup = group?.members.get(principal);
    if (inGroup && isEffective(inGroup, now)) return true;
  }
  return false;
}

/** A member counts while it is approved, not system-disabled and not expired. */
export function isEffective(member: MemberRecord, now: number): boolean {
  return (
    member.approved && !member.systemDisabled && (member.expiration === undefined || member.expiration > now)
  );
}

/**
 * The members a delegated role gets from its trust domain: the members of every trust-domain
 * role named by an `assume_role` assertion whose resource matches the role (first one wins
 * when a member appears in several).
 */
export function delegatedMembers(store: ZmsStore, domainName: string, role: RoleRecord): MemberRecord[] {
  const trustDomain = role.trust ? store.getDomain(role.trust) : undefined;
  if (!trustDomain || trustDomain.name === domainName) return [];
  const members = new Map<string, MemberRecord>();
  for (const trusted of assumableRoles(trustDomain, fullRoleName(domainName, role.name))) {
    for (const member of trusted.members.values()) {
      if (!members.has(member.memberName)) members.set(member.memberName, member);
    }
  }
  return [...members.values()];
}

/**
 * Replaces each group member by the group's members, with the earlier of the two expirations
 * (a member listed directly and through a group appears once per source, as in ZMS).
 */
export function expandGroupMembers(store: ZmsStore, members: Iterable<MemberRecord>): MemberRecord[] {
  const expanded: MemberRecord[] = [];
  for (const member of members) {
    const classified = member.memberName.includes(':group.') ? classifyMember(member.memberName) : undefined;
    if (classified?.type !== 'group') {
      expanded.push(member);
      continue;
    }
    const group = store.getDomain(classified.domain!)?.groups.get(classified.group!);
    for (const groupMember of group?.members.values() ?? []) {
      const expiration = earliest(member.expiration, groupMember.expiration);
      const systemDisabled = (member.systemDisabled ?? 0) | (groupMember.systemDisabled ?? 0);
      const copy: MemberRecord = { ...groupMember };
      if (expiration === undefined) delete copy.expiration;
      else copy.expiration = expiration;
      if (systemDisabled) copy.systemDisabled = systemDisabled;
      expanded.push(copy);
    }
  }
  return expanded;
}

function earliest(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.min(a, b);
}

/** Roles of `trustDomain` that an ALLOW `assume_role` assertion lets assume `targetRole`. */
function assumableRoles(trustDomain: DomainRecord, targetRole: string): RoleRecord[] {
  const roles: RoleRecord[] = [];
  for (const policy of trustDomain.policies.values()) {
    for (const assertion of policy.assertions) {
      if (assertion.effect !== 'ALLOW' || assertion.action !== 'assume_role') continue;
      if (!globMatches(assertion.resource, targetRole)) continue;
      for (const role of rolesMatching(trustDomain, assertion.role))
        if (!roles.includes(role)) roles.push(role);
    }
  }
  return roles;
}

/** The roles of `domain` whose full name matches an assertion's role glob. */
function rolesMatching(domain: DomainRecord, roleGlob: string): RoleRecord[] {
  if (!roleGlob.includes('*') && !roleGlob.includes('?')) {
    const prefix = `${domain.name}:role.`;
    const role = roleGlob.startsWith(prefix) ? domain.roles.get(roleGlob.slice(prefix.length)) : undefined;
    return role ? [role] : [];
  }
  return [...domain.roles.values()].filter((role) =>
    globMatches(roleGlob, fullRoleName(domain.name, role.name)),
  );
}

const compiledGlobs = new Map<string, RegExp>();

/** Case-insensitive glob match where `*` is any run of characters and `?` any one. */
export function globMatches(glob: string, value: string): boolean {
  if (glob === '*') return true;
  let regex = compiledGlobs.get(glob);
  if (!regex) {
    const source = glob
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replaceAll('*', '.*')
      .replaceAll('?', '.');
    regex = new RegExp(`^${source}$`, 'i');
    if (compiledGlobs.size > 10_000) compiledGlobs.clear();
    compiledGlobs.set(glob, regex);
  }
  return regex.test(value);
}
