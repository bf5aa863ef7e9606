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
import { fullGroupName, fullPolicyName, fullRoleName } from './names.ts';
import type { DomainSigner } from './signing.ts';

/**
 * The JSON shapes ZMS writes. Following its conventions: optional fields that are unset or
 * empty are left out; `false` and `0` are written only where ZMS stores a value (a domain's
 * `enabled`/`auditEnabled`, a member's `approved`); role and group flags that are false, a
 * member's `active` that is true and `systemDisabled` that is 0 are left out, as ZMS does.
 * Timestamps are ISO-8601 UTC with milliseconds.
 */

export const iso = (ms: number): string => new Date(ms).toISOString();

type Json = Record<string, unknown>;

const DOMAIN_META_FIELDS = [
  'description',
  'org',
  'account',
  'ypmId',
  'applicationId',
  'certDnsDomain',
  'memberExpiryDays',
  'serviceExpiryDays',
  'groupExpiryDays',
  'tokenExpiryMins',
  'roleCertExpiryMins',
  'serviceCertExpiryMins',
  'userAuthorityFilter',
  'businessService',
  'productId',
  'environment',
] as const satisfies readonly (keyof DomainMeta)[];

const ENTITY_META_FIELDS = [
  'description',
  'memberExpiryDays',
  'serviceExpiryDays',
  'groupExpiryDays',
  'memberReviewDays',
  'serviceReviewDays',
  'tokenExpiryMins',
  'certExpiryMins',
  'notifyRoles',
  'userAuthorityFilter',
  'userAuthorityExpiration',
] as const satisfies readonly (keyof EntityMeta)[];

export function domainJson(domain: DomainRecord): Json {
  const json: Json = { name: domain.name, modified: iso(domain.modified), id: domain.id };
  copyPresent(json, domain, DOMAIN_META_FIELDS);
  json.enabled = domain.enabled;
  json.auditEnabled = domain.auditEnabled;
  if (hasEntries(domain.tags)) json.tags = domain.tags;
  return json;
}

export function memberJson(member: MemberRecord, pendingState?: string): Json {
  const json: Json = { memberName: member.memberName };
  if (member.expiration !== undefined) json.expiration = iso(member.expiration);
  if (member.reviewReminder !== undefined) json.reviewReminder = iso(member.reviewReminder);
  if (!member.active) json.active = false;
  json.approved = member.approved;
  if (member.auditRef) json.auditRef = member.auditRef;
  if (member.requestPrincipal) json.requestPrincipal = member.requestPrincipal;
  if (member.requestTime !== undefined) json.requestTime = iso(member.requestTime);
  if (member.systemDisabled) json.systemDisabled = member.systemDisabled;
  if (pendingState) json.pendingState = pendingState;
  return json;
}

export interface RoleJsonOptions {
  /** The members to write (standard, expanded or with pending ones); none → no roleMembers. */
  members?: Iterable<MemberRecord>;
  pending?: Iterable<MemberRecord>;
  auditLog?: boolean;
}

export function roleJson(domainName: string, role: RoleRecord, options: RoleJsonOptions = {}): Json {
  const json: Json = { name: fullRoleName(domainName, role.name), modified: iso(role.modified) };
  const members = [...(options.members ?? [])].map((m) => memberJson(m));
  for (const member of options.pending ?? []) members.push(memberJson(member, 'ADD'));
  members.sort(byMemberName);
  if (members.length > 0) json.roleMembers = members;
  if (role.trust) json.trust = role.trust;
  entityMetaJson(json, role);
  if (options.auditLog && role.auditLog.length > 0) json.auditLog = role.auditLog.map(auditLogJson);
  return json;
}

export function groupJson(
  domainName: string,
  group: GroupRecord,
  options: { auditLog?: boolean; members?: boolean } = {},
): Json {
  const json: Json = { name: fullGroupName(domainName, group.name), modified: iso(group.modified) };
  const members =
    options.members === false ? [] : [...group.members.values()].map((m) => memberJson(m)).sort(byMemberName);
  if (members.length > 0) json.groupMembers = members;
  entityMetaJson(json, group);
  if (options.auditLog && group.auditLog.length > 0) json.auditLog = group.auditLog.map(auditLogJson);
  return json;
}

export function policyJson(domainName: string, policy: PolicyRecord): Json {
  return {
    name: fullPolicyName(domainName, policy.name),
    modified: iso(policy.modified),
    assertions: policy.assertions.map((a) => ({
      role: a.role,
      resource: a.resource,
      action: a.action,
      effect: a.effect,
      id: a.id,
    })),
  };
}

/** DomainData as carried in signed domains: the domain with all its roles, groups and policies. */
export function domainDataJson(domain: DomainRecord, signer: DomainSigner): Json {
  const json = domainJson(domain);
  json.roles = sortedValues(domain.roles).map((role) =>
    roleJson(domain.name, role, { members: role.members.values() }),
  );
  json.groups = sortedValues(domain.groups).map((group) => groupJson(domain.name, group));
  const contents = {
    domain: domain.name,
    policies: sortedValues(domain.policies).map((p) => policyJson(domain.name, p)),
  };
  json.policies = { contents, signature: signer.sign(JSON.stringify(contents)), keyId: signer.keyId };
  json.services = [];
  json.entities = [];
  return json;
}

function entityMetaJson(json: Json, meta: EntityMeta): void {
  if (meta.auditEnabled) json.auditEnabled = true;
  if (meta.selfServe) json.selfServe = true;
  if (meta.reviewEnabled) json.reviewEnabled = true;
  copyPresent(json, meta, ENTITY_META_FIELDS);
  if (hasEntries(meta.tags)) json.tags = meta.tags;
}

function auditLogJson(entry: AuditLogEntry): Json {
  const json: Json = {
    member: entry.member,
    admin: entry.admin,
    created: iso(entry.created),
    action: entry.action,
  };
  if (entry.auditRef) json.auditRef = entry.auditRef;
  return json;
}

function copyPresent<T extends object>(json: Json, source: T, fields: readonly (keyof T)[]): void {
  for (const field of fields) {
    const value = source[field];
    // 0 means "not set" for ZMS's numeric settings, so it is left out like an empty string.
    if (value !== undefined && value !== null && value !== '' && value !== 0) json[field as string] = value;
  }
}

const hasEntries = (value: object | undefined): boolean =>
  value !== undefined && Object.keys(value).length > 0;

export const byMemberName = (a: Json, b: Json): number =>
  String(a.memberName) < String(b.memberName) ? -1 : String(a.memberName) > String(b.memberName) ? 1 : 0;

export function sortedValues<T extends { name: string }>(map: Map<string, T>): T[] {
  return [...map.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
