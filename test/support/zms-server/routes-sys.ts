import { emptyBadRequest, notFound } from './errors.ts';
import { defineRoute, header, ok, queryFlag, type Reply, type RequestContext } from './http.ts';
import type { DomainRecord } from './model.ts';
import { domainDataJson, iso } from './serialize.ts';

/**
 * Change detection, the only ETag/304 in ZMS. The tag is a quoted timestamp; a domain counts
 * as changed when its `modified` is strictly later than the tag (no tag, or one that does
 * not parse, reads as the epoch).
 */

const EPOCH_TAG = `"${iso(0)}"`;

function parseTag(raw: string | undefined): number {
  if (!raw) return 0;
  const ms = Date.parse(raw.replace(/^W\//, '').replaceAll('"', ''));
  return Number.isNaN(ms) ? 0 : ms;
}

const quotedTag = (ms: number): string => `"${iso(ms)}"`;

/**
 * A 304 of the domain list repeats the request's tag as it came (the epoch tag when there was
 * no header; the official clients always send one, empty when they have no tag yet).
 */
const listNotModified = (ctx: RequestContext): Reply => ({
  status: 304,
  headers: { ETag: header(ctx, 'if-none-match') ?? EPOCH_TAG },
});

/** A 304 about one domain carries that domain's own tag, whatever tag the request had. */
const domainNotModified = (domain: DomainRecord): Reply => ({
  status: 304,
  headers: { ETag: quotedTag(domain.modified) },
});

const isSysPrincipal = (ctx: RequestContext): boolean =>
  ctx.principal.domain === 'sys' || ctx.principal.domain.startsWith('sys.');

/**
 * GET /sys/modified_domains. Without `domain`: `metaonly=true` is required (or a `sys.*`
 * caller with `master=true`), else 400 with an empty body; every domain of the server changed
 * since the tag, or 304. With `domain=X`: X in full if it changed, 304 if not, an empty list
 * if X does not exist.
 */
function getSignedDomains(ctx: RequestContext): Reply {
  const since = parseTag(header(ctx, 'if-none-match'));
  const metaOnly = queryFlag(ctx, 'metaonly');
  const { store, signer } = ctx.zms;
  const entry = (domain: DomainRecord) => {
    if (metaOnly)
      return { domain: { name: domain.name, modified: iso(domain.modified), enabled: domain.enabled } };
    const data = domainDataJson(domain, signer);
    return { domain: data, signature: signer.sign(JSON.stringify(data)), keyId: signer.keyId };
  };

  const only = ctx.query.get('domain')?.toLowerCase();
  if (only) {
    const domain = store.getDomain(only);
    // ZMS tags the empty answer about a missing domain with the time of the answer.
    if (!domain) return ok({ domains: [] }, { ETag: quotedTag(store.clock.now()) });
    if (domain.modified <= since) return domainNotModified(domain);
    return ok({ domains: [entry(domain)] }, { ETag: quotedTag(domain.modified) });
  }

  if (!metaOnly && !(queryFlag(ctx, 'master') && isSysPrincipal(ctx))) throw emptyBadRequest();
  // Polling clients mostly find nothing new: answer that without looking at every domain.
  if (since >= store.newestModified) return listNotModified(ctx);
  const changed = [...store.domains].filter((domain) => domain.modified > since);
  if (changed.length === 0) return listNotModified(ctx);
  changed.sort((a, b) => (a.name < b.name ? -1 : 1));
  const newest = changed.reduce((max, domain) => Math.max(max, domain.modified), 0);
  return ok({ domains: changed.map(entry) }, { ETag: quotedTag(newest) });
}

/** GET /domain/{domain}/signed: the domain as a JWS, with the same If-None-Match/304 rule. */
function getJWSDomain(ctx: RequestContext): Reply {
  const name = ctx.params.domain!;
  const domain = ctx.zms.store.getDomain(name);
  if (!domain) throw notFound(`No such domain: ${name}`);
  if (domain.modified <= parseTag(header(ctx, 'if-none-match'))) return domainNotModified(domain);
  const { signer } = ctx.zms;
  return ok(signer.jws(domainDataJson(domain, signer)), { ETag: quotedTag(domain.modified) });
}

const getStatus = (): Reply => ok({ code: 200, message: 'OK' });

export const sysRoutes = [
  defineRoute('GET', '/sys/modified_domains', 'getSignedDomains', getSignedDomains),
  defineRoute('GET', '/domain/{domain}/signed', 'getJWSDomain', getJWSDomain),
  defineRoute('GET', '/status', 'getStatus', getStatus),
];
