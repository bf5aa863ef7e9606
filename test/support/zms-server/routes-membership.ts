import { MembershipBody } from './bodies.ts';
import { badRequest, forbidden, notFound, quotaExceeded } from './errors.ts';
import { auditRef, checkMemberExists, classifyOrReject, domainForWrite, mayUpdateMembers } from './guards.ts';
import {
  defineRoute,
  noContent,
  objectOrNoContent,
  ok,
  type RequestContext,
  readJsonBody,
  validateBody,
} from './http.ts';
import type { MemberRecord, RoleRecord } from './model.ts';
import { fullRoleName, shortObjectName } from './names.ts';
import { iso, memberJson } from './serialize.ts';
import { newMember } from './store.ts';

type MembershipParams = { domain: string; role: string; member: string };

/**
 * PUT /domain/{domain}/role/{role}/member/{member}: adds the member or overwrites its dates
 * (no expiration in the body clears it). Callers with `update`/`update_members` on the role
 * add active members; on a self-serve role anyone may ask and the member waits as pending.
 */
function putMembership(ctx: RequestContext) {
  const { domain: domainName, role: roleName, member: memberName } = ctx.params as MembershipParams;
  const raw = readJsonBody(ctx, 'Membership');
  const domain = ctx.zms.store.getDomain(domainName);
  const role = domain?.roles.get(roleName);
  if (!domain || !role) throw badRequest('Invalid role name specified');
  const body = validateBody(raw, 'Membership', MembershipBody);
  if (body.memberName.toLowerCase() !== memberName) {
    throw badRequest(`putMembership: Member name mismatch: ${body.memberName} vs ${memberName}`);
  }
  if (body.roleName && shortObjectName(body.roleName, domainName, ':role.') !== roleName) {
    throw badRequest(`putMembership: Role name mismatch: ${body.roleName} vs ${roleName}`);
  }
  if (role.trust)
    throw badRequest(`putMembership: ${fullRoleName(domainName, roleName)} is a delegated role`);
  const classified = classifyOrReject(memberName);

  const resource = fullRoleName(domainName, roleName);
  const { store, quotas } = ctx.zms;
  const caller = ctx.principal.fullName;
  const authorized = mayUpdateMembers(ctx, resource, domainName);
  if (!authorized && !role.selfServe)
    throw forbidden('putMembership: principal is not authorized to add members');
  checkMemberExists(ctx, memberName, classified);
  const ref = auditRef(ctx, domain, role);
  if (!role.members.has(memberName) && role.members.size >= quotas.membersPerRole) {
    throw quotaExceeded(ctx.api, 'role member', quotas.membersPerRole, role.members.size);
  }

  const pending = !authorized || !!role.reviewEnabled;
  const member = newMember(memberName, {
    active: !pending,
    approved: !pending,
    requestPrincipal: caller,
    ...(ref ? { auditRef: ref } : {}),
    ...(body.expiration !== undefined ? { expiration: body.expiration } : {}),
    ...(body.reviewReminder !== undefined ? { reviewReminder: body.reviewReminder } : {}),
    ...(pending ? { requestTime: store.clock.now() } : {}),
  });
  store.putMember(domain, role, member, { principal: caller, auditRef: ref });
  return objectOrNoContent(ctx, () => membershipJson(domainName, role, memberName, store.clock.now()));
}

/**
 * DELETE /domain/{domain}/role/{role}/member/{member}: callers with `update`/`update_members`
 * on the role, or the member itself (anyone may leave a role); the last `admin` member stays
 * (403).
 */
function deleteMembership(ctx: RequestContext) {
  const { domain: domainName, role: roleName, member: memberName } = ctx.params as MembershipParams;
  const domain = domainForWrite(ctx, domainName);
  const resource = fullRoleName(domainName, roleName);
  const role = domain.roles.get(roleName);
  if (!role) throw notFound('Invalid domain/role name specified');
  const caller = ctx.principal.fullName;
  const { store } = ctx.zms;
  if (caller !== memberName && !mayUpdateMembers(ctx, resource, domainName))
    throw forbidden('deleteMembership: principal is not authorized to delete members');
  const ref = auditRef(ctx, domain, role);
  if (roleName === 'admin' && role.members.size === 1 && role.members.has(memberName)) {
    throw forbidden("deleteMembership: Cannot delete last member of 'admin' role");
  }
  if (!role.members.has(memberName)) {
    throw notFound(`deleteMembership: unable to delete role member: ${memberName} from role: ${roleName}`);
  }
  store.removeMember(domain, role, memberName, { principal: caller, auditRef: ref });
  return noContent();
}

/** GET /domain/{domain}/role/{role}/member/{member}: not a member, or expired → `isMember:false`. */
function getMembership(ctx: RequestContext) {
  const { domain: domainName, role: roleName, member: memberName } = ctx.params as MembershipParams;
  const role = ctx.zms.store.getDomain(domainName)?.roles.get(roleName);
  if (!role) throw notFound(`getMembership: Role not found: '${fullRoleName(domainName, roleName)}'`);
  return ok(membershipJson(domainName, role, memberName, ctx.zms.store.clock.now()));
}

function membershipJson(domainName: string, role: RoleRecord, memberName: string, now: number) {
  const roleName = fullRoleName(domainName, role.name);
  const member: MemberRecord | undefined = role.members.get(memberName) ?? role.pending.get(memberName);
  if (!member) return { memberName, roleName, isMember: false };
  const expired = member.expiration !== undefined && member.expiration <= now;
  // A Membership carries a role member's fields, except requestTime.
  const { requestTime: _requestTime, ...fields } = memberJson(member, member.approved ? undefined : 'ADD');
  return { ...fields, roleName, isMember: member.approved && !expired };
}

/**
 * GET /domain/{domain}/member: every standard member of every role in the domain, with the
 * roles it is in (expired memberships included, group members not expanded).
 */
function getDomainRoleMembers(ctx: RequestContext) {
  const domainName = ctx.params.domain!;
  const domain = ctx.zms.store.getDomain(domainName);
  if (!domain) throw notFound(`getDomainRoleMembers: Domain not found: ${domainName}`);
  const byMember = new Map<string, { roleName: string; expiration?: string; systemDisabled?: number }[]>();
  for (const role of domain.roles.values()) {
    for (const member of role.members.values()) {
      const entry: { roleName: string; expiration?: string; systemDisabled?: number } = {
        roleName: role.name,
      };
      if (member.expiration !== undefined) entry.expiration = iso(member.expiration);
      if (member.systemDisabled) entry.systemDisabled = member.systemDisabled;
      const roles = byMember.get(member.memberName) ?? [];
      roles.push(entry);
      byMember.set(member.memberName, roles);
    }
  }
  const members = [...byMember.keys()].sort().map((memberName) => ({
    memberName,
    memberRoles: byMember.get(memberName)!.sort((a, b) => (a.roleName < b.roleName ? -1 : 1)),
  }));
  return ok({ domainName, members });
}

export const membershipRoutes = [
  defineRoute('GET', '/domain/{domain}/member', 'getDomainRoleMembers', getDomainRoleMembers),
  defineRoute('GET', '/domain/{domain}/role/{role}/member/{member}', 'getMembership', getMembership),
  defineRoute('PUT', '/domain/{domain}/role/{role}/member/{member}', 'putMembership', putMembership),
  defineRoute('DELETE', '/domain/{domain}/role/{role}/member/{member}', 'deleteMembership', deleteMembership),
];
