import { isAllowed } from './authz.ts';
import { definedOnly, SubDomainBody, TopLevelDomainBody } from './bodies.ts';
import { badRequest, forbidden, notFound, quotaExceeded } from './errors.ts';
import {
  authorize,
  checkDomainNameLength,
  checkMemberExists,
  classifyOrReject,
  domainForWrite,
  isSystemAdmin,
} from './guards.ts';
import {
  defineRoute,
  header,
  noContent,
  ok,
  queryLimit,
  type RequestContext,
  readJsonBody,
  validateBody,
} from './http.ts';
import type { DomainMeta, DomainRecord } from './model.ts';
import { domainDepth, isSimpleName, topLevelDomainOf } from './names.ts';
import { domainJson } from './serialize.ts';

/** POST /domain: top-level domains, for `sys.auth` admins only. */
function postTopLevelDomain(ctx: RequestContext) {
  const raw = readJsonBody(ctx, 'TopLevelDomain');
  authorize(ctx, ['create'], 'sys.auth:domain', 'sys.auth');
  const body = validateBody(raw, 'TopLevelDomain', TopLevelDomainBody);
  const name = body.name.toLowerCase();
  if (!isSimpleName(name))
    throw badRequest(`Invalid TopLevelDomain error: name: ${name} is not a SimpleName`);
  return ok(domainJson(createDomain(ctx, name, body)));
}

/**
 * POST /subdomain/{parent}: authorized by the parent's policies (`create` on
 * `<parent>:domain`). The subdomain inherits the parent's `auditEnabled` and `org`; only
 * `adminUsers` become its admins (not the caller).
 */
function postSubDomain(ctx: RequestContext) {
  const parentName = ctx.params.parent!;
  const raw = readJsonBody(ctx, 'SubDomain');
  const parent = domainForWrite(ctx, parentName);
  authorize(ctx, ['create'], `${parentName}:domain`, parentName);
  const body = validateBody(raw, 'SubDomain', SubDomainBody);
  if (body.parent.toLowerCase() !== parentName) {
    throw forbidden('postSubDomain: Request and detail parent domains do not match');
  }
  const leaf = body.name.toLowerCase();
  if (!isSimpleName(leaf)) throw badRequest(`Invalid SubDomain error: name: ${leaf} is not a SimpleName`);
  const name = `${parentName}.${leaf}`;
  checkDomainNameLength(name);
  const topLevel = topLevelDomainOf(name);
  const subdomains = ctx.zms.store.descendantsOf(topLevel).length;
  const limit = ctx.zms.quotas.subdomainsPerTopLevelDomain;
  if (subdomains >= limit) throw quotaExceeded(ctx.api, 'subdomain', limit, subdomains);
  const inherited = { ...body, auditEnabled: parent.auditEnabled, org: parent.org };
  return ok(domainJson(createDomain(ctx, name, inherited)));
}

function createDomain(ctx: RequestContext, name: string, body: TopLevelDomainBody): DomainRecord {
  checkDomainNameLength(name);
  if (name.includes('_') && !isSystemAdmin(ctx)) throw badRequest('Domain name cannot contain underscores');
  const existing = ctx.zms.store.conflictingDomain(name);
  if (existing) throw badRequest(`Domain name conflict: ${existing}`);
  const adminUsers = [...new Set(body.adminUsers.map((m) => m.toLowerCase()))];
  for (const admin of adminUsers) checkMemberExists(ctx, admin, classifyOrReject(admin));
  const { name: _name, adminUsers: _admins, ...meta } = body;
  const domainMeta: DomainMeta = {
    ...definedOnly(meta),
    enabled: meta.enabled ?? true,
    auditEnabled: meta.auditEnabled ?? false,
  };
  return ctx.zms.store.createDomain({ name, meta: domainMeta, adminUsers });
}

/** GET /domain/{domain}: any authenticated caller. */
function getDomain(ctx: RequestContext) {
  const domain = ctx.zms.store.getDomain(ctx.params.domain!);
  if (!domain) throw notFound(`getDomain: Domain not found: ${ctx.params.domain}`);
  return ok(domainJson(domain));
}

/**
 * GET /domain: names in ascending order, filtered by `prefix` (raw string prefix), `depth`
 * (at most that many dots), `member`/`role`, `tagKey`/`tagValue` and `If-Modified-Since`
 * (strictly later). `skip` drops the names up to and including itself when it is one of the
 * names found (ZMS ignores a `skip` that names no such domain); `limit` cuts the list, `next`
 * naming the last name returned.
 */
function getDomainList(ctx: RequestContext) {
  const limit = queryLimit(ctx);
  const prefix = ctx.query.get('prefix')?.toLowerCase() ?? '';
  const skip = ctx.query.get('skip')?.toLowerCase();
  const depth = optionalCount(ctx, 'depth');
  const member = ctx.query.get('member')?.toLowerCase();
  const role = ctx.query.get('role')?.toLowerCase();
  const tagKey = ctx.query.get('tagKey');
  const tagValue = ctx.query.get('tagValue');
  const since = ifModifiedSince(ctx);
  const { store } = ctx.zms;

  let names: string[] = [];
  for (const name of store.namesFrom(prefix)) {
    if (!name.startsWith(prefix)) break;
    if (depth !== undefined && domainDepth(name) > depth) continue;
    const domain = store.getDomain(name)!;
    if (since !== undefined && domain.modified <= since) continue;
    if (tagKey && !hasTag(domain.tags, tagKey, tagValue)) continue;
    if (member && !hasRoleMember(domain, member, role)) continue;
    names.push(name);
  }
  const skipped = skip === undefined ? -1 : names.indexOf(skip);
  if (skipped >= 0) names = names.slice(skipped + 1);
  if (limit !== undefined && names.length > limit) {
    names = names.slice(0, limit);
    return ok({ names, next: names.at(-1) });
  }
  return ok({ names });
}

/** DELETE /subdomain/{parent}/{name}: admins of the parent or of the subdomain may delete it. */
function deleteSubDomain(ctx: RequestContext) {
  const parentName = ctx.params.parent!;
  const name = `${parentName}.${ctx.params.name}`;
  const { store } = ctx.zms;
  if (!store.getDomain(name)) throw notFound(`deleteSubDomain: Domain not found: ${name}`);
  const caller = ctx.principal.fullName;
  const allowed =
    isAllowed(store, caller, 'delete', `${parentName}:domain`, parentName) ||
    isAllowed(store, caller, 'delete', `${name}:domain`, name);
  if (!allowed) throw forbidden();
  const children = store.descendantsOf(name).length;
  if (children > 0) {
    throw badRequest(`deleteSubDomain: Cannot delete domain ${name}: ${children} subdomains of it exist`);
  }
  store.deleteDomain(name);
  return noContent();
}

/** DELETE /domain/{domain}: top-level domains, for `sys.auth` admins only. */
function deleteTopLevelDomain(ctx: RequestContext) {
  const name = ctx.params.domain!;
  authorize(ctx, ['delete'], 'sys.auth:domain', 'sys.auth');
  const { store } = ctx.zms;
  if (name.includes('.') || !store.getDomain(name))
    throw notFound(`deleteTopLevelDomain: Domain not found: ${name}`);
  const children = store.descendantsOf(name).length;
  if (children > 0) {
    throw badRequest(
      `deleteTopLevelDomain: Cannot delete domain ${name}: ${children} subdomains of it exist`,
    );
  }
  store.deleteDomain(name);
  return noContent();
}

function optionalCount(ctx: RequestContext, name: string): number | undefined {
  const raw = ctx.query.get(name);
  if (raw === null) return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw badRequest(`${ctx.api}: Invalid ${name}: ${raw}`);
  return value;
}

/**
 * `If-Modified-Since` (RFC 1123) in epoch ms; a date that does not parse is a 400. An empty
 * header is no filter: the official clients send the header on every list call, empty when
 * the caller gave no date (`zms-cli list-domain`).
 */
function ifModifiedSince(ctx: RequestContext): number | undefined {
  const raw = header(ctx, 'if-modified-since');
  if (raw === undefined || raw === '') return undefined;
  const ms = Date.parse(raw);
  // ZMS appends its date parser's message to its own without a space.
  if (Number.isNaN(ms)) {
    throw badRequest(
      `${ctx.api}: If-Modified-Since header value must be valid RFC1123 dateUnparseable date: "${raw}"`,
    );
  }
  return ms;
}

function hasTag(tags: DomainMeta['tags'], key: string, value: string | null): boolean {
  const values = tags?.[key]?.list;
  return !!values && (value === null || values.includes(value));
}

function hasRoleMember(domain: DomainRecord, member: string, role: string | undefined): boolean {
  if (role !== undefined) return domain.roles.get(role)?.members.has(member) ?? false;
  for (const candidate of domain.roles.values()) if (candidate.members.has(member)) return true;
  return false;
}

export const domainRoutes = [
  defineRoute('POST', '/domain', 'postTopLevelDomain', postTopLevelDomain),
  defineRoute('GET', '/domain', 'getDomainList', getDomainList),
  defineRoute('GET', '/domain/{domain}', 'getDomain', getDomain),
  defineRoute('DELETE', '/domain/{domain}', 'deleteTopLevelDomain', deleteTopLevelDomain),
  defineRoute('POST', '/subdomain/{parent}', 'postSubDomain', postSubDomain),
  defineRoute('DELETE', '/subdomain/{parent}/{name}', 'deleteSubDomain', deleteSubDomain),
];
