import { GroupMembershipBody } from './bodies.ts';
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
import type { GroupRecord } from './model.ts';
import { fullGroupName, shortObjectName } from './names.ts';
import { memberJson } from './serialize.ts';
import { newMember } from './store.ts';

/**
 * One member of a group at a time, as `zms-cli add-group-member`, `delete-group-member` and
 * `check-group-member` use them. Group members are users or services: no wildcards, no groups.
 */

type GroupMembershipParams = { domain: string; group: string; member: string };

/** PUT /domain/{domain}/group/{group}/member/{member}: adds the member or overwrites its expiration. */
function putGroupMembership(ctx: RequestContext) {
  const { domain: domainName, group: groupName, member: memberName } = ctx.params as GroupMembershipParams;
  const raw = readJsonBody(ctx, 'GroupMembership');
  const domain = ctx.zms.store.getDomain(domainName);
  const group = domain?.groups.get(groupName);
  if (!domain || !group) throw badRequest('Invalid groupname specified');
  const body = validateBody(raw, 'GroupMembership', GroupMembershipBody);
  if (body.memberName.toLowerCase() !== memberName) {
    throw badRequest('putGroupMembership: Member name in URI and GroupMembership object do not match');
  }
  if (body.groupName && shortObjectName(body.groupName, domainName, ':group.') !== groupName) {
    throw badRequest('putGroupMembership: Group name in URI and GroupMembership object do not match');
  }
  const classified = classifyOrReject(memberName);
  if (classified.wildcard || classified.type === 'group') {
    throw badRequest(
      `putGroupMembership: Group member ${memberName} is not valid: wildcards and groups cannot be group members`,
    );
  }
  const caller = ctx.principal.fullName;
  const resource = fullGroupName(domainName, groupName);
  if (!mayUpdateMembers(ctx, resource, domainName)) {
    throw forbidden('putGroupMembership: principal is not authorized to add members');
  }
  checkMemberExists(ctx, memberName, classified);
  const ref = auditRef(ctx, domain, group);
  const { store, quotas } = ctx.zms;
  if (!group.members.has(memberName) && group.members.size >= quotas.membersPerGroup) {
    throw quotaExceeded(ctx.api, 'group member', quotas.membersPerGroup, group.members.size);
  }
  const member = newMember(memberName, {
    requestPrincipal: caller,
    ...(ref ? { auditRef: ref } : {}),
    ...(body.expiration !== undefined ? { expiration: body.expiration } : {}),
  });
  store.putGroupMember(domain, group, member, { principal: caller, auditRef: ref });
  return objectOrNoContent(ctx, () => groupMembershipJson(domainName, group, memberName, store.clock.now()));
}

/** DELETE /domain/{domain}/group/{group}/member/{member}: as for roles, the member itself may leave. */
function deleteGroupMembership(ctx: RequestContext) {
  const { domain: domainName, group: groupName, member: memberName } = ctx.params as GroupMembershipParams;
  const domain = domainForWrite(ctx, domainName);
  const group = domain.groups.get(groupName);
  if (!group) throw notFound('Invalid domain/group name specified');
  const caller = ctx.principal.fullName;
  const { store } = ctx.zms;
  const resource = fullGroupName(domainName, groupName);
  if (caller !== memberName && !mayUpdateMembers(ctx, resource, domainName))
    throw forbidden('deleteGroupMembership: principal is not authorized to delete members');
  const ref = auditRef(ctx, domain, group);
  if (!group.members.has(memberName)) {
    throw notFound(`unable to delete group member: ${memberName} from group: ${groupName}`);
  }
  store.removeGroupMember(domain, group, memberName, { principal: caller, auditRef: ref });
  return noContent();
}

/** GET /domain/{domain}/group/{group}/member/{member}: not a member, or expired → `isMember:false`. */
function getGroupMembership(ctx: RequestContext) {
  const { domain: domainName, group: groupName, member: memberName } = ctx.params as GroupMembershipParams;
  const group = ctx.zms.store.getDomain(domainName)?.groups.get(groupName);
  if (!group)
    throw notFound(`getGroupMembership: Group not found: '${fullGroupName(domainName, groupName)}'`);
  return ok(groupMembershipJson(domainName, group, memberName, ctx.zms.store.clock.now()));
}

function groupMembershipJson(domainName: string, group: GroupRecord, memberName: string, now: number) {
  const groupName = fullGroupName(domainName, group.name);
  const member = group.members.get(memberName);
  if (!member) return { memberName, groupName, isMember: false };
  const expired = member.expiration !== undefined && member.expiration <= now;
  const { requestTime: _requestTime, ...fields } = memberJson(member);
  return { ...fields, groupName, isMember: !expired };
}

export const groupMembershipRoutes = [
  defineRoute(
    'GET',
    '/domain/{domain}/group/{group}/member/{member}',
    'getGroupMembership',
    getGroupMembership,
  ),
  defineRoute(
    'PUT',
    '/domain/{domain}/group/{group}/member/{member}',
    'putGroupMembership',
    putGroupMembership,
  ),
  defineRoute(
    'DELETE',
    '/domain/{domain}/group/{group}/member/{member}',
    'deleteGroupMembership',
    deleteGroupMembership,
  ),
];
