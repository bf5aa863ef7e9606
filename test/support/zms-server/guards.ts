import { hasMember, isAllowed } from './authz.ts';
import { authorizeDomainNotFound, badRequest, forbidden, notFound } from './errors.ts';
import { header, type RequestContext } from './http.ts';
import type { DomainRecord, EntityMeta, MemberRecord } from './model.ts';
import {
  type ClassifiedMember,
  classifyMember,
  DOMAIN_NAME_MAX_LENGTH,
  ENTITY_NAME_MAX_LENGTH,
  isCompoundName,
} from './names.ts';

/**
 * Checks the route handlers share: the authorize step of writes, the audit reference, and
 * name and member validation, each failing with the status and message ZMS uses.
 */

/** The authorize step of a write: the resource domain must exist (else a bare 404). */
export function domainForWrite(ctx: RequestContext, domainName: string): DomainRecord {
  const domain = ctx.zms.store.getDomain(domainName);
  if (!domain) throw authorizeDomainNotFound(domainName);
  return domain;
}

export function authorize(
  ctx: RequestContext,
  actions: string[],
  resource: string,
  domainName: string,
): void {
  const { store } = ctx.zms;
  if (!actions.some((action) => isAllowed(store, ctx.principal.fullName, action, resource, domainName))) {
    throw forbidden();
  }
}

/** Member writes need `update` or `update_members` on the role or group. */
export function mayUpdateMembers(ctx: RequestContext, resource: string, domainName: string): boolean {
  return ['update', 'update_members'].some((action) =>
    isAllowed(ctx.zms.store, ctx.principal.fullName, action, resource, domainName),
  );
}

/** True when the caller administers `sys.auth` (a "system admin"). */
export function isSystemAdmin(ctx: RequestContext): boolean {
  const sysAuth = ctx.zms.store.getDomain('sys.auth');
  const admin = sysAuth?.roles.get('admin');
  return (
    !!sysAuth &&
    !!admin &&
    hasMember(ctx.zms.store, sysAuth, admin, ctx.principal.fullName, ctx.zms.store.clock.now())
  );
}

/** `Y-Audit-Ref` is required when the domain or the object has auditing on. */
export function auditRef(ctx: RequestContext, domain: DomainRecord, object?: EntityMeta): string | undefined {
  const ref = header(ctx, 'y-audit-ref')?.trim() || undefined;
  if (!ref && (domain.auditEnabled || object?.auditEnabled)) {
    throw badRequest(`${ctx.api}: Audit reference required for domain: ${domain.name}`);
  }
  return ref;
}

export function checkDomainNameLength(name: string): void {
  if (name.length > DOMAIN_NAME_MAX_LENGTH) {
    throw badRequest(`Invalid Domain name: ${name} : name length cannot exceed: ${DOMAIN_NAME_MAX_LENGTH}`);
  }
}

/** Role, group and policy names in the path: EntityName, at most 512 characters. */
export function checkEntityName(ctx: RequestContext, name: string, type: 'Role' | 'Group' | 'Policy'): void {
  if (name.length > ENTITY_NAME_MAX_LENGTH) {
    throw badRequest(
      `${ctx.api}: Invalid ${type} name: ${name} : name length cannot exceed: ${ENTITY_NAME_MAX_LENGTH}`,
    );
  }
  if (!isCompoundName(name))
    throw badRequest(`Invalid EntityName error: ${name} does not match the EntityName pattern`);
}

/** A member name must classify as a principal: 400 "Principal X is not valid". */
export function classifyOrReject(name: string): ClassifiedMember {
  const classified = classifyMember(name);
  if (!classified) throw badRequest(`Principal ${name} is not valid`);
  return classified;
}

/** A member's domain (and, for a group member, the group) must exist: 404 otherwise. */
export function checkMemberExists(ctx: RequestContext, name: string, member: ClassifiedMember): void {
  if (member.domain === undefined) return;
  const domain = ctx.zms.store.getDomain(member.domain);
  if (!domain) throw notFound(`unknown domain - ${name}`);
  if (member.type === 'group' && !domain.groups.has(member.group!)) throw notFound(`unknown group - ${name}`);
}

/** Lowercases, validates and de-duplicates body members (the last entry for a name wins). */
export function validatedMembers(
  ctx: RequestContext,
  entries: { memberName: string; expiration?: number; reviewReminder?: number }[],
  accept: (name: string, member: ClassifiedMember) => void = () => {},
): Map<string, { expiration?: number; reviewReminder?: number }> {
  const members = new Map<string, { expiration?: number; reviewReminder?: number }>();
  for (const entry of entries) {
    const name = entry.memberName.toLowerCase();
    const classified = classifyOrReject(name);
    accept(name, classified);
    checkMemberExists(ctx, name, classified);
    members.set(name, { expiration: entry.expiration, reviewReminder: entry.reviewReminder });
  }
  return members;
}

/**
 * Member records for a replaced role or group: a member that stays keeps its audit details
 * and takes the new dates; a new member records who added it and why.
 */
export function memberRecords(
  ctx: RequestContext,
  wanted: Map<string, { expiration?: number; reviewReminder?: number }>,
  previous: Map<string, MemberRecord> | undefined,
  ref: string | undefined,
): MemberRecord[] {
  return [...wanted].map(([memberName, dates]) => {
    const base: MemberRecord = previous?.get(memberName) ?? {
      memberName,
      active: true,
      approved: true,
      requestPrincipal: ctx.principal.fullName,
      ...(ref ? { auditRef: ref } : {}),
    };
    const record: MemberRecord = { ...base };
    delete record.expiration;
    delete record.reviewReminder;
    if (dates.expiration !== undefined) record.expiration = dates.expiration;
    if (dates.reviewReminder !== undefined) record.reviewReminder = dates.reviewReminder;
    return record;
  });
}
