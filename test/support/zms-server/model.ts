/**
 * The records the test server keeps in memory. Times are epoch milliseconds; names are
 * lowercase short names (the full `<domain>:role.<role>` forms are built on output).
 */

export type TagValues = Record<string, { list: string[] }>;

/** DomainMeta fields a client may set; stored as given and returned by GET /domain/{d}. */
export interface DomainMeta {
  description?: string;
  org?: string;
  enabled: boolean;
  auditEnabled: boolean;
  account?: string;
  ypmId?: number;
  applicationId?: string;
  certDnsDomain?: string;
  memberExpiryDays?: number;
  serviceExpiryDays?: number;
  groupExpiryDays?: number;
  tokenExpiryMins?: number;
  roleCertExpiryMins?: number;
  serviceCertExpiryMins?: number;
  userAuthorityFilter?: string;
  businessService?: string;
  productId?: string;
  environment?: string;
  tags?: TagValues;
}

export interface DomainRecord extends DomainMeta {
  name: string;
  id: string;
  modified: number;
  roles: Map<string, RoleRecord>;
  groups: Map<string, GroupRecord>;
  policies: Map<string, PolicyRecord>;
}

export interface MemberRecord {
  memberName: string;
  expiration?: number;
  reviewReminder?: number;
  /** False only for pending members. */
  active: boolean;
  approved: boolean;
  auditRef?: string;
  requestPrincipal?: string;
  requestTime?: number;
  /** Non-zero when the system disabled the member (a test control sets it). */
  systemDisabled?: number;
}

/** Role and group meta a client may set with the object; stored as given. */
export interface EntityMeta {
  description?: string;
  auditEnabled?: boolean;
  selfServe?: boolean;
  reviewEnabled?: boolean;
  memberExpiryDays?: number;
  serviceExpiryDays?: number;
  groupExpiryDays?: number;
  memberReviewDays?: number;
  serviceReviewDays?: number;
  tokenExpiryMins?: number;
  certExpiryMins?: number;
  notifyRoles?: string;
  userAuthorityFilter?: string;
  userAuthorityExpiration?: string;
  tags?: TagValues;
}

export interface AuditLogEntry {
  member: string;
  admin: string;
  created: number;
  action: 'ADD' | 'DELETE';
  auditRef?: string;
}

export interface RoleRecord extends EntityMeta {
  name: string;
  modified: number;
  /** Standard (approved) members by name. */
  members: Map<string, MemberRecord>;
  /** Members waiting for approval (self-serve or review-enabled roles). */
  pending: Map<string, MemberRecord>;
  /** Delegated role: members come from this domain's `assume_role` assertions. */
  trust?: string;
  auditLog: AuditLogEntry[];
}

export interface GroupRecord extends EntityMeta {
  name: string;
  modified: number;
  members: Map<string, MemberRecord>;
  auditLog: AuditLogEntry[];
}

export type AssertionEffect = 'ALLOW' | 'DENY';

export interface AssertionRecord {
  /** Full role name or glob, e.g. `sports:role.admin`. */
  role: string;
  /** Resource glob with its domain, e.g. `sports:*`. */
  resource: string;
  action: string;
  effect: AssertionEffect;
  id: number;
}

export interface PolicyRecord {
  name: string;
  modified: number;
  assertions: AssertionRecord[];
}

export interface Quotas {
  rolesPerDomain: number;
  membersPerRole: number;
  subdomainsPerTopLevelDomain: number;
  groupsPerDomain: number;
  membersPerGroup: number;
  policiesPerDomain: number;
  assertionsPerPolicy: number;
}

export const DEFAULT_QUOTAS: Quotas = {
  rolesPerDomain: 1000,
  membersPerRole: 100,
  subdomainsPerTopLevelDomain: 100,
  groupsPerDomain: 100,
  membersPerGroup: 100,
  policiesPerDomain: 1000,
  assertionsPerPolicy: 1000,
};
