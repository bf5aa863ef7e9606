import { definedOnly, GroupBody } from './bodies.ts';
import { badRequest, notFound, quotaExceeded } from './errors.ts';
import {
  auditRef,
  authorize,
  checkEntityName,
  domainForWrite,
  memberRecords,
  validatedMembers,
} from './guards.ts';
import {
  defineRoute,
  noContent,
  objectOrNoContent,
  ok,
  queryFlag,
  type RequestContext,
  readJsonBody,
  validateBody,
} from './http.ts';
import { fullGroupName, shortObjectName } from './names.ts';
import { groupJson, sortedValues } from './serialize.ts';

type GroupParams = { domain: string; group: string };

/**
 * GET /domain/{domain}/groups: every group in one call, sorted; `members=true` adds their
 * members. `tagKey`/`tagValue` filter.
 */
function getGroups(ctx: RequestContext) {
  const domain = ctx.zms.store.getDomain(ctx.params.domain!);
  if (!domain) throw notFound(`Domain not found: '${ctx.params.domain}'`);
  const withMembers = queryFlag(ctx, 'members');
  const tagKey = ctx.query.get('tagKey');
  const tagValue = ctx.query.get('tagValue');
  const list = sortedValues(domain.groups)
    .filter((g) => !tagKey || (g.tags?.[tagKey] && (!tagValue || g.tags[tagKey].list.includes(tagValue))))
    .map((group) => groupJson(domain.name, group, { members: withMembers }));
  return ok({ list });
}

function getGroup(ctx: RequestContext) {
  const { domain: domainName, group: groupName } = ctx.params as GroupParams;
  const group = ctx.zms.store.getDomain(domainName)?.groups.get(groupName);
  if (!group) throw notFound(`getGroup: Group not found: '${fullGroupName(domainName, groupName)}'`);
  return ok(groupJson(domainName, group, { auditLog: queryFlag(ctx, 'auditLog') }));
}

/**
 * PUT /domain/{domain}/group/{group}: creates or replaces the group (members missing from the
 * body are removed). Group members are users or services: no wildcards, no groups.
 */
function putGroup(ctx: RequestContext) {
  const { domain: domainName, group: groupName } = ctx.params as GroupParams;
  const raw = readJsonBody(ctx, 'Group');
  const domain = domainForWrite(ctx, domainName);
  const fullName = fullGroupName(domainName, groupName);
  authorize(ctx, ['update'], fullName, domainName);
  checkEntityName(ctx, groupName, 'Group');
  const body = validateBody(raw, 'Group', GroupBody);
  if (shortObjectName(body.name, domainName, ':group.') !== groupName) {
    throw badRequest(`putGroup: Inconsistent group names - expected: ${fullName}, actual: ${body.name}`);
  }
  const existing = domain.groups.get(groupName);
  const ref = auditRef(ctx, domain, existing ?? body);
  const wanted = validatedMembers(ctx, body.groupMembers ?? [], (name, member) => {
    if (member.wildcard || member.type === 'group') {
      throw badRequest(
        `putGroup: Group member ${name} is not valid: wildcards and groups cannot be group members`,
      );
    }
  });

  const { quotas } = ctx.zms;
  if (!existing && domain.groups.size >= quotas.groupsPerDomain) {
    throw quotaExceeded(ctx.api, 'group', quotas.groupsPerDomain, domain.groups.size);
  }
  if (wanted.size > quotas.membersPerGroup) {
    throw quotaExceeded(ctx.api, 'group member', quotas.membersPerGroup, wanted.size);
  }

  const { name: _name, groupMembers: _members, ...meta } = body;
  const group = ctx.zms.store.putGroup(
    domain,
    groupName,
    { ...definedOnly(meta), members: memberRecords(ctx, wanted, existing?.members, ref) },
    { principal: ctx.principal.fullName, auditRef: ref },
  );
  return objectOrNoContent(ctx, () => groupJson(domainName, group));
}

/** DELETE /domain/{domain}/group/{group}: roles that name the group as a member keep the entry. */
function deleteGroup(ctx: RequestContext) {
  const { domain: domainName, group: groupName } = ctx.params as GroupParams;
  const domain = domainForWrite(ctx, domainName);
  authorize(ctx, ['delete'], fullGroupName(domainName, groupName), domainName);
  const group = domain.groups.get(groupName);
  if (!group) throw notFound('deleteGroup: Group does not exist');
  auditRef(ctx, domain, group);
  ctx.zms.store.deleteGroup(domain, groupName);
  return noContent();
}

export const groupRoutes = [
  defineRoute('GET', '/domain/{domain}/groups', 'getGroups', getGroups),
  defineRoute('GET', '/domain/{domain}/group/{group}', 'getGroup', getGroup),
  defineRoute('PUT', '/domain/{domain}/group/{group}', 'putGroup', putGroup),
  defineRoute('DELETE', '/domain/{domain}/group/{group}', 'deleteGroup', deleteGroup),
];
