import type { RoleMember } from '../zms/schemas.ts';
import { classifyMember } from './principals.ts';

/**
 * Turns the members of one Athenz role into RoleBinding subjects. Pure: the caller fetches the
 * role (and the groups it names) and passes the clock reading in.
 *
 * Rules, in order: a member counts only while it is active, approved, not system-disabled and
 * not expired; users (and services, when `services: User`) become `User` subjects named
 * `<userPrefix><principal>`; group members are replaced by the group's members (when
 * `groups: Expand`), each expiring at the earlier of the two expirations; wildcards, external
 * principals and malformed names have no RBAC equivalent and are reported as skipped.
 * Subjects are de-duplicated and sorted, so an unchanged member list always yields the same
 * subjects and never causes a write.
 */
export interface SubjectOptions {
  userPrefix: string;
  services: 'User' | 'Skip';
  groups: 'Expand' | 'Skip';
}

export interface RbacSubject {
  kind: 'User';
  apiGroup: 'rbac.authorization.k8s.io';
  name: string;
}

/** One principal that the binding grants access to, and why. */
export interface GrantedPrincipal {
  principal: string;
  subject: string;
  /** The group the principal is a member of, when it came in through one. */
  via?: string;
  expiration?: Date;
}

export type SkipReason =
  | 'Wildcard'
  | 'External'
  | 'InvalidName'
  | 'ServiceSkipped'
  | 'GroupSkipped'
  | 'GroupNotFound';
export interface SkippedMember {
  member: string;
  reason: SkipReason;
}

export interface SubjectPlan {
  subjects: RbacSubject[];
  granted: GrantedPrincipal[];
  skipped: SkippedMember[];
  /** The earliest future expiration among granted members: when this plan next changes by itself. */
  nextExpiry?: Date;
}

/** Group members by full group name (`<domain>:group.<group>`); absent = the group does not exist. */
export type GroupMembers = ReadonlyMap<string, readonly RoleMember[]>;

export function isEffective(member: RoleMember, now: Date): boolean {
  if (!member.active || !member.approved || member.systemDisabled !== 0) return false;
  return !member.expiration || member.expiration.getTime() > now.getTime();
}

function earlier(a: Date | undefined, b: Date | undefined): Date | undefined {
  if (!a) return b;
  if (!b) return a;
  return a.getTime() <= b.getTime() ? a : b;
}

export function planSubjects(
  members: readonly RoleMember[],
  groups: GroupMembers,
  options: SubjectOptions,
  now: Date,
): SubjectPlan {
  const granted = new Map<string, GrantedPrincipal>();
  const skipped: SkippedMember[] = [];

  const grant = (principal: string, expiration: Date | undefined, via?: string) => {
    const subject = `${options.userPrefix}${principal}`;
    const existing = granted.get(subject);
    // The same principal through two paths stays as long as the longer-lived path.
    if (existing && (!existing.expiration || (expiration && existing.expiration >= expiration))) return;
    granted.set(subject, {
      principal,
      subject,
      ...(via ? { via } : {}),
      ...(expiration ? { expiration } : {}),
    });
  };

  const admitPrincipal = (name: string, expiration: Date | undefined, via?: string) => {
    const kind = classifyMember(name);
    switch (kind) {
      case 'user':
        return grant(name, expiration, via);
      case 'service':
        if (options.services === 'User') return grant(name, expiration, via);
        return skipped.push({ member: name, reason: 'ServiceSkipped' });
      case 'wildcard':
        return skipped.push({ member: name, reason: 'Wildcard' });
      case 'external':
        return skipped.push({ member: name, reason: 'External' });
      default:
        // Groups cannot contain groups in ZMS; one that does is as unknown as a bad name.
        return skipped.push({ member: name, reason: 'InvalidName' });
    }
  };

  for (const member of members) {
    if (!isEffective(member, now)) continue;
    const name = member.memberName.toLowerCase();
    if (classifyMember(name) !== 'group') {
      admitPrincipal(name, member.expiration ?? undefined);
      continue;
    }
    if (options.groups === 'Skip') {
      skipped.push({ member: name, reason: 'GroupSkipped' });
      continue;
    }
    const groupMembers = groups.get(name);
    if (!groupMembers) {
      skipped.push({ member: name, reason: 'GroupNotFound' });
      continue;
    }
    for (const inner of groupMembers) {
      if (!isEffective(inner, now)) continue;
      admitPrincipal(
        inner.memberName.toLowerCase(),
        earlier(member.expiration ?? undefined, inner.expiration ?? undefined),
        name,
      );
    }
  }

  const sorted = [...granted.values()].sort((a, b) =>
    a.subject < b.subject ? -1 : a.subject > b.subject ? 1 : 0,
  );
  const nextExpiry = sorted.reduce<Date | undefined>((min, g) => earlier(min, g.expiration), undefined);
  return {
    subjects: sorted.map((g) => ({ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: g.subject })),
    granted: sorted,
    skipped: dedupeSkipped(skipped),
    ...(nextExpiry ? { nextExpiry } : {}),
  };
}

function dedupeSkipped(skipped: SkippedMember[]): SkippedMember[] {
  const seen = new Map<string, SkippedMember>();
  for (const s of skipped) seen.set(`${s.member}\u0000${s.reason}`, s);
  return [...seen.values()].sort((a, b) => a.member.localeCompare(b.member));
}
