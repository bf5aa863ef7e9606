import { randomUUID } from 'node:crypto';
import { ZmsClock } from './clock.ts';
import type {
  AuditLogEntry,
  DomainMeta,
  DomainRecord,
  EntityMeta,
  GroupRecord,
  MemberRecord,
  PolicyRecord,
  RoleRecord,
} from './model.ts';
import { domainConflictKey, fullRoleName } from './names.ts';

/** Who made a change, for the role audit log. */
export interface ChangeAuthor {
  principal: string;
  auditRef?: string;
}

export interface NewDomain {
  name: string;
  meta: DomainMeta;
  adminUsers: string[];
}

export interface RoleContent extends EntityMeta {
  trust?: string;
  members: MemberRecord[];
}

export interface GroupContent extends EntityMeta {
  members: MemberRecord[];
}

/**
 * The in-memory ZMS data: domains with their roles, groups and policies. It enforces no
 * rules (the routes do) but keeps the invariants the routes rely on: a sorted name index for
 * listing, the `.`-as-`-` conflict index, and a domain `modified` stamp that moves on every
 * change inside the domain. Listeners hear about every change (persistence uses that).
 */
export class ZmsStore {
  readonly clock: ZmsClock;
  #domains = new Map<string, DomainRecord>();
  #sortedNames: string[] = [];
  #conflicts = new Map<string, string>();
  #listeners = new Set<() => void>();
  #nextAssertionId = 1;

  constructor(clock: ZmsClock = new ZmsClock()) {
    this.clock = clock;
  }

  /** A fresh server: `user`, `sys` and `sys.auth`, administered by `adminPrincipals`. */
  static bootstrap(adminPrincipals: string[], clock?: ZmsClock): ZmsStore {
    const store = new ZmsStore(clock);
    for (const name of ['sys', 'sys.auth', 'user']) {
      store.createDomain({ name, meta: { enabled: true, auditEnabled: false }, adminUsers: adminPrincipals });
    }
    return store;
  }

  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  getDomain(name: string): DomainRecord | undefined {
    return this.#domains.get(name);
  }

  get domains(): IterableIterator<DomainRecord> {
    return this.#domains.values();
  }

  /** Domain names in ascending order, starting at the first name that has `prefix`. */
  *namesFrom(prefix: string): Generator<string> {
    for (let i = this.#lowerBound(prefix); i < this.#sortedNames.length; i++) yield this.#sortedNames[i]!;
  }

  /** Every domain below `name` (children, grandchildren, ...). */
  descendantsOf(name: string): string[] {
    const prefix = `${name}.`;
    const found: string[] = [];
    for (const candidate of this.namesFrom(prefix)) {
      if (!candidate.startsWith(prefix)) break;
      found.push(candidate);
    }
    return found;
  }

  /** The existing domain whose name collides with `name`, if any. */
  conflictingDomain(name: string): string | undefined {
    return this.#conflicts.get(domainConflictKey(name));
  }

  /** The newest `modified` stamp handed out; no domain is newer. */
  get newestModified(): number {
    return this.clock.lastModified;
  }

  createDomain({ name, meta, adminUsers }: NewDomain): DomainRecord {
    const modified = this.clock.nextModified();
    const members = new Map(adminUsers.map((m): [string, MemberRecord] => [m, newMember(m)]));
    const domain: DomainRecord = {
      ...meta,
      name,
      id: randomUUID(),
      modified,
      roles: new Map([['admin', { name: 'admin', modified, members, pending: new Map(), auditLog: [] }]]),
      groups: new Map(),
      policies: new Map(),
    };
    domain.policies.set('admin', {
      name: 'admin',
      modified,
      assertions: [this.newAssertion(fullRoleName(name, 'admin'), `${name}:*`, '*', 'ALLOW')],
    });
    this.insertDomain(domain);
    this.#changed();
    return domain;
  }

  deleteDomain(name: string): void {
    if (!this.#domains.delete(name)) return;
    this.#sortedNames.splice(this.#lowerBound(name), 1);
    this.#conflicts.delete(domainConflictKey(name));
    this.#changed();
  }

  /** Replaces a role's members and settings (members missing from `content` are removed). */
  putRole(domain: DomainRecord, name: string, content: RoleContent, author: ChangeAuthor): RoleRecord {
    const previous = domain.roles.get(name);
    const members = new Map(content.members.map((m): [string, MemberRecord] => [m.memberName, m]));
    const auditLog = previous?.auditLog ?? [];
    logMemberDiff(auditLog, previous?.members, members, author, this.clock.now());
    const { members: _ignored, ...meta } = content;
    const role: RoleRecord = {
      ...meta,
      name,
      modified: this.touch(domain),
      members,
      pending: previous?.pending ?? new Map(),
      auditLog,
    };
    domain.roles.set(name, role);
    this.#changed();
    return role;
  }

  deleteRole(domain: DomainRecord, name: string): void {
    if (domain.roles.delete(name)) this.touch(domain);
    this.#changed();
  }

  /** Adds or overwrites one member; `pending` members wait for approval in their own list. */
  putMember(domain: DomainRecord, role: RoleRecord, member: MemberRecord, author: ChangeAuthor): void {
    const list = member.approved ? role.members : role.pending;
    if (member.approved) role.pending.delete(member.memberName);
    list.set(member.memberName, member);
    if (member.approved) role.auditLog.push(auditEntry(member.memberName, 'ADD', author, this.clock.now()));
    role.modified = this.touch(domain);
    this.#changed();
  }

  removeMember(domain: DomainRecord, role: RoleRecord, memberName: string, author: ChangeAuthor): void {
    if (!role.members.delete(memberName)) return;
    role.auditLog.push(auditEntry(memberName, 'DELETE', author, this.clock.now()));
    role.modified = this.touch(domain);
    this.#changed();
  }

  /** A test control (ZMS sets it itself): marks a role member as disabled by the system. */
  setSystemDisabled(
    domain: DomainRecord,
    role: RoleRecord,
    memberName: string,
    systemDisabled: number,
  ): boolean {
    const member = role.members.get(memberName);
    if (!member) return false;
    if (systemDisabled === 0) delete member.systemDisabled;
    else member.systemDisabled = systemDisabled;
    role.modified = this.touch(domain);
    this.#changed();
    return true;
  }

  putGroup(domain: DomainRecord, name: string, content: GroupContent, author: ChangeAuthor): GroupRecord {
    const previous = domain.groups.get(name);
    const members = new Map(content.members.map((m): [string, MemberRecord] => [m.memberName, m]));
    const auditLog = previous?.auditLog ?? [];
    logMemberDiff(auditLog, previous?.members, members, author, this.clock.now());
    const { members: _ignored, ...meta } = content;
    const group: GroupRecord = { ...meta, name, modified: this.touch(domain), members, auditLog };
    domain.groups.set(name, group);
    this.#changed();
    return group;
  }

  deleteGroup(domain: DomainRecord, name: string): void {
    if (domain.groups.delete(name)) this.touch(domain);
    this.#changed();
  }

  /** Adds or overwrites one group member (groups have no pending members here). */
  putGroupMember(domain: DomainRecord, group: GroupRecord, member: MemberRecord, author: ChangeAuthor): void {
    group.members.set(member.memberName, member);
    group.auditLog.push(auditEntry(member.memberName, 'ADD', author, this.clock.now()));
    group.modified = this.touch(domain);
    this.#changed();
  }

  removeGroupMember(
    domain: DomainRecord,
    group: GroupRecord,
    memberName: string,
    author: ChangeAuthor,
  ): void {
    if (!group.members.delete(memberName)) return;
    group.auditLog.push(auditEntry(memberName, 'DELETE', author, this.clock.now()));
    group.modified = this.touch(domain);
    this.#changed();
  }

  putPolicy(domain: DomainRecord, policy: Omit<PolicyRecord, 'modified'>): PolicyRecord {
    const record = { ...policy, modified: this.touch(domain) };
    domain.policies.set(policy.name, record);
    this.#changed();
    return record;
  }

  deletePolicy(domain: DomainRecord, name: string): void {
    if (domain.policies.delete(name)) this.touch(domain);
    this.#changed();
  }

  newAssertion(role: string, resource: string, action: string, effect: 'ALLOW' | 'DENY') {
    return { role, resource, action, effect, id: this.#nextAssertionId++ };
  }

  /** Moves the domain's `modified` stamp and returns it. */
  touch(domain: DomainRecord): number {
    domain.modified = this.clock.nextModified();
    return domain.modified;
  }

  /** Adds a domain record as it is (used when loading persisted state). */
  insertDomain(domain: DomainRecord): void {
    this.#domains.set(domain.name, domain);
    this.#sortedNames.splice(this.#lowerBound(domain.name), 0, domain.name);
    this.#conflicts.set(domainConflictKey(domain.name), domain.name);
    this.clock.observe(domain.modified);
    for (const policy of domain.policies.values()) {
      for (const assertion of policy.assertions) {
        this.#nextAssertionId = Math.max(this.#nextAssertionId, assertion.id + 1);
      }
    }
  }

  #lowerBound(name: string): number {
    let low = 0;
    let high = this.#sortedNames.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.#sortedNames[mid]! < name) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  #changed(): void {
    for (const listener of this.#listeners) listener();
  }
}

export function newMember(memberName: string, fields: Partial<MemberRecord> = {}): MemberRecord {
  return { memberName, active: true, approved: true, ...fields };
}

function auditEntry(
  member: string,
  action: 'ADD' | 'DELETE',
  author: ChangeAuthor,
  now: number,
): AuditLogEntry {
  const entry: AuditLogEntry = { member, admin: author.principal, created: now, action };
  if (author.auditRef) entry.auditRef = author.auditRef;
  return entry;
}

function logMemberDiff(
  log: AuditLogEntry[],
  before: Map<string, MemberRecord> | undefined,
  after: Map<string, MemberRecord>,
  author: ChangeAuthor,
  now: number,
): void {
  for (const name of after.keys()) if (!before?.has(name)) log.push(auditEntry(name, 'ADD', author, now));
  for (const name of before?.keys() ?? [])
    if (!after.has(name)) log.push(auditEntry(name, 'DELETE', author, now));
}
