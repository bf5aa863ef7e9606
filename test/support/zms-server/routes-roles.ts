import { delegatedMembers, expandGroupMembers } from './authz.ts';
import { definedOnly, type EntityMetaBody, RoleBody } from './bodies.ts';
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
  queryLimit,
  type RequestContext,
  readJsonBody,
  validateBody,
} from './http.ts';
import type { DomainRecord, RoleRecord } from './model.ts';
import { fullRoleName, shortObjectName } from './names.ts';
import { roleJson, sortedValues } from './serialize.ts';

function domainOr404(ctx: RequestContext): DomainRecord {
  const domain = ctx.zms.store.getDomain(ctx.params.domain!);
  if (!domain) throw notFound(`${ctx.api}: Domain not found: ${ctx.params.domain}`);
  return domain;
}

/** GET /domain/{domain}/role: short role names, sorted; `skip` and `limit` page through them. */
function getRoleList(ctx: RequestContext) {
  const domain = domainOr404(ctx);
  const limit = queryLimit(ctx);
  const skip = ctx.query.get('skip')?.toLowerCase();
  const all = [...domain.roles.keys()].sort().filter((name) => skip === undefined || name > skip);
  if (limit === undefined || all.length <= limit) return ok({ names: all });
  const names = all.slice(0, limit);
  return ok({ names, next: names.at(-1) });
}

/**
 * GET /domain/{domain}/roles: every role in one call; with `members=true` each carries its
 * standard members (expired ones too; group members not expanded). `tagKey`/`tagValue` filter.
 */
function getRoles(ctx: RequestContext) {
  const domain = ctx.zms.store.getDomain(ctx.params.domain!);
  if (!domain) throw notFound(`getRoles: Domain not found: '${ctx.params.domain}'`);
  const withMembers = queryFlag(ctx, 'members');
  const tagKey = ctx.query.get('tagKey');
  const tagValue = ctx.query.get('tagValue');
  const list = sortedValues(domain.roles)
    .filter(
      (role) => !tagKey || (role.tags?.[tagKey] && (!tagValue || role.tags[tagKey].list.includes(tagValue))),
    )
    .map((role) => roleJson(domain.name, role, withMembers ? { members: role.members.values() } : {}));
  return ok({ list });
}

/**
 * GET /domain/{domain}/role/{role}: `expand=true` replaces group members by the groups'
 * members and gives a delegated role the members its trust domain grants it; `pending=true`
 * adds members awaiting approval; `auditLog=true` adds the change log.
 */
function getRole(ctx: RequestContext) {
  const { domain: domainName, role: roleName } = ctx.params as { domain: string; role: string };
  const role = ctx.zms.store.getDomain(domainName)?.roles.get(roleName);
  if (!role) throw notFound(`getRole: Role not found: '${fullRoleName(domainName, roleName)}'`);
  const { store } = ctx.zms;
  let members = [...role.members.values()];
  if (queryFlag(ctx, 'expand')) {
    members = role.trust ? delegatedMembers(store, domainName, role) : expandGroupMembers(store, members);
  }
  return ok(
    roleJson(domainName, role, {
      members,
      pending: queryFlag(ctx, 'pending') ? role.pending.values() : undefined,
      auditLog: queryFlag(ctx, 'auditLog'),
    }),
  );
}

/**
 * PUT /domain/{domain}/role/{role}: creates or replaces the role; members missing from the
 * body are removed. Needs `update` on `<domain>:role.<role>`.
 */
function putRole(ctx: RequestContext) {
  const { domain: domainName, role: roleName } = ctx.params as { domain: string; role: string };
  const raw = readJsonBody(ctx, 'Role');
  const domain = domainForWrite(ctx, domainName);
  authorize(ctx, ['update'], fullRoleName(domainName, roleName), domainName);
  checkEntityName(ctx, roleName, 'Role');
  const body = validateBody(raw, 'Role', RoleBody);
  const fullName = fullRoleName(domainName, roleName);
  if (shortObjectName(body.name, domainName, ':role.') !== roleName) {
    throw badRequest(`putRole: Inconsistent role names - expected: ${fullName}, actual: ${body.name}`);
  }
  const entries = [
    ...(body.roleMembers ?? []),
    ...(body.members ?? []).map((memberName) => ({ memberName })),
  ];
  const trust = body.trust?.toLowerCase() || undefined;
  if (trust && entries.length > 0) {
    throw badRequest('putRole: Role cannot have both roleMembers and delegated domain set');
  }
  if (trust) checkTrustDomain(ctx, domainName, trust);
  if (roleName === 'admin' && entries.length === 0) {
    throw badRequest('putRole: admin role must have at least one member');
  }
  const existing = domain.roles.get(roleName);
  const ref = auditRef(ctx, domain, existing ?? body);
  const wanted = validatedMembers(ctx, entries);

  const { quotas } = ctx.zms;
  if (!existing && domain.roles.size >= quotas.rolesPerDomain) {
    throw quotaExceeded(ctx.api, 'role', quotas.rolesPerDomain, domain.roles.size);
  }
  if (wanted.size > quotas.membersPerRole)
    throw quotaExceeded(ctx.api, 'role member', quotas.membersPerRole, wanted.size);

  const role = ctx.zms.store.putRole(
    domain,
    roleName,
    {
      ...roleMeta(body),
      ...(trust ? { trust } : {}),
      members: memberRecords(ctx, wanted, existing?.members, ref),
    },
    { principal: ctx.principal.fullName, auditRef: ref },
  );
  return objectOrNoContent(ctx, () => roleJson(domainName, role, { members: role.members.values() }));
}

function checkTrustDomain(ctx: RequestContext, domainName: string, trust: string): void {
  if (trust === domainName) throw badRequest(`putRole: Role cannot be delegated to its own domain: ${trust}`);
  if (!ctx.zms.store.getDomain(trust)) throw notFound(`putRole: Delegated domain not found: ${trust}`);
}

function roleMeta(body: RoleBody): EntityMetaBody {
  const { name: _name, roleMembers: _roleMembers, members: _members, trust: _trust, ...meta } = body;
  return definedOnly(meta);
}

/** DELETE /domain/{domain}/role/{role}: the `admin` role cannot be deleted. */
function deleteRole(ctx: RequestContext) {
  const { domain: domainName, role: roleName } = ctx.params as { domain: string; role: string };
  const domain = domainForWrite(ctx, domainName);
  authorize(ctx, ['delete'], fullRoleName(domainName, roleName), domainName);
  if (roleName === 'admin') throw badRequest('deleteRole: admin role cannot be deleted');
  const role: RoleRecord | undefined = domain.roles.get(roleName);
  if (!role) throw notFound(`deleteRole: Role not found: '${fullRoleName(domainName, roleName)}'`);
  auditRef(ctx, domain, role);
  ctx.zms.store.deleteRole(domain, roleName);
  return noContent();
}

export const roleRoutes = [
  defineRoute('GET', '/domain/{domain}/role', 'getRoleList', getRoleList),
  defineRoute('GET', '/domain/{domain}/roles', 'getRoles', getRoles),
  defineRoute('GET', '/domain/{domain}/role/{role}', 'getRole', getRole),
  defineRoute('PUT', '/domain/{domain}/role/{role}', 'putRole', putRole),
  defineRoute('DELETE', '/domain/{domain}/role/{role}', 'deleteRole', deleteRole),
];
