import pLimit from 'p-limit';
import { request } from 'undici';
import type { z } from 'zod';
import { ReloadingAgent, type TlsFiles } from './credentials.ts';
import { fromNetworkError, kindForStatus, parseRetryAfter, ZmsError } from './errors.ts';
import {
  type Domain,
  domainListSchema,
  domainSchema,
  errorBodySchema,
  type Group,
  groupSchema,
  modifiedDomainsSchema,
  type Role,
  roleSchema,
  rolesSchema,
} from './schemas.ts';

/**
 * The ZMS operations the operator needs (see docs/reference/athenz-zms-api.md for the contract).
 * Reads that return `undefined` do so only on a verified 404; every other failure throws a
 * ZmsError, so a caller can never mistake an outage for "the role is gone".
 */
export interface ZmsClient {
  getDomain(domain: string): Promise<Domain | undefined>;
  createSubdomain(parent: string, name: string, detail: SubdomainDetail): Promise<Domain>;
  deleteSubdomain(parent: string, name: string): Promise<void>;
  /** Every role of the domain with its standard members (groups not expanded). */
  getRoles(domain: string): Promise<Role[]>;
  getRole(domain: string, role: string, options?: { expand?: boolean }): Promise<Role | undefined>;
  /** Creates (or replaces!) a role: callers create only after a verified 404. */
  putRole(domain: string, role: string, members: string[]): Promise<void>;
  getGroup(domain: string, group: string): Promise<Group | undefined>;
  /** The names of the direct subdomains of `parent` (one request per 5,000 names). */
  listSubdomains(parent: string): Promise<string[]>;
  /** Domains changed since `etag` (all domains when absent); `undefined` domains = 304. */
  getModifiedDomains(etag?: string): Promise<ModifiedDomains>;
  close(): Promise<void>;
}

export interface SubdomainDetail {
  adminUsers: string[];
  description?: string;
  tags?: Record<string, string[]>;
}

export interface ModifiedDomains {
  etag: string;
  /** Undefined when ZMS answered 304 Not Modified. */
  domains?: Array<{ name: string; modified?: Date | undefined }>;
}

export interface ZmsClientOptions {
  /** e.g. `https://zms.example.com:4443/zms/v1` */
  url: string;
  tls: TlsFiles;
  timeoutMs?: number;
  maxAttempts?: number;
  concurrency?: number;
  backoff?: { baseMs: number; maxMs: number };
  /** Sent as `Y-Audit-Ref` on every write. */
  auditRef?: string;
  /** Called once per HTTP exchange, for metrics. `status` is 0 when no response arrived. */
  observe?: (sample: { endpoint: string; method: string; status: number; seconds: number }) => void;
  onCredentialsReload?: () => void;
  onCredentialsError?: (err: unknown) => void;
}

interface Call<T> {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** The route template, for metrics and messages: `GET /domain/{d}/roles`. */
  endpoint: string;
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
  schema?: z.ZodType<T>;
  /** Statuses that are answers, not errors: 404 for lookups, 304 for change polls. */
  accept?: number[];
  /** The change poll: outside the concurrency limit that reconciles share, so a busy or
   * backed-off reconcile never delays hearing about changes (or about ZMS coming back). */
  priority?: boolean;
}

interface Reply<T> {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  value?: T;
}

const enc = encodeURIComponent;
const MAX_INLINE_RETRY_AFTER_MS = 5_000;

export function createZmsClient(options: ZmsClientOptions): ZmsClient {
  if (!options.url.startsWith('https://')) throw new Error(`ZMS URL must be https: ${options.url}`);
  const base = options.url.replace(/\/+$/, '');
  const agent = new ReloadingAgent(options.tls, {
    // One connection more than the shared limit: the change poll's own.
    connections: (options.concurrency ?? 8) + 1,
    ...(options.onCredentialsReload ? { onReload: options.onCredentialsReload } : {}),
    ...(options.onCredentialsError ? { onReloadError: options.onCredentialsError } : {}),
  });
  const limit = pLimit(options.concurrency ?? 8);
  const timeoutMs = options.timeoutMs ?? 5_000;
  const maxAttempts = options.maxAttempts ?? 4;
  const { baseMs, maxMs } = options.backoff ?? { baseMs: 200, maxMs: 5_000 };
  const auditRef = options.auditRef ?? 'athenz-rbac-operator';

  async function once<T>(call: Call<T>): Promise<Reply<T>> {
    const started = performance.now();
    let status = 0;
    try {
      const headers: Record<string, string> = { accept: 'application/json', ...call.headers };
      if (call.body !== undefined) headers['content-type'] = 'application/json';
      if (call.method !== 'GET') headers['y-audit-ref'] = auditRef;
      const response = await request(`${base}${call.path}`, {
        method: call.method,
        headers,
        ...(call.body !== undefined ? { body: JSON.stringify(call.body) } : {}),
        dispatcher: agent.current(),
        signal: AbortSignal.timeout(timeoutMs),
      }).catch((err: unknown) => {
        throw fromNetworkError(call.endpoint, err);
      });
      status = response.statusCode;
      const text = await response.body.text().catch((err: unknown) => {
        throw fromNetworkError(call.endpoint, err);
      });
      const replyHeaders = response.headers as Reply<T>['headers'];
      if (status >= 200 && status < 300) {
        return { status, headers: replyHeaders, ...(call.schema ? { value: parseBody(call, text) } : {}) };
      }
      if (call.accept?.includes(status)) return { status, headers: replyHeaders };
      const retryAfterMs = parseRetryAfter(replyHeaders['retry-after']);
      throw new ZmsError(kindForStatus(status), call.endpoint, errorMessage(status, text), {
        status,
        ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
      });
    } finally {
      options.observe?.({
        endpoint: call.endpoint,
        method: call.method,
        status,
        seconds: (performance.now() - started) / 1000,
      });
    }
  }

  /** False from a retryable failure until the next answer: a call that starts while ZMS is
   * known to be down gets one attempt, so reconciles fail fast instead of sleeping through
   * retries (the change poll notices the recovery and resyncs everything). */
  let reachable = true;

  /** Retries what may succeed later, with exponential backoff and full jitter, waiting at least
   * what `Retry-After` asks (up to 5 s). A POST is retried only when ZMS said it did not act on it
   * (429, 503): after a lost connection it may have, and a retry would report a false conflict.
   * Each attempt takes a concurrency slot; the wait between attempts holds none. */
  async function send<T>(call: Call<T>): Promise<Reply<T>> {
    const attempts = reachable ? maxAttempts : 1;
    for (let attempt = 1; ; attempt++) {
      try {
        const reply = await (call.priority ? once(call) : limit(() => once(call)));
        reachable = true;
        return reply;
      } catch (err) {
        const zmsError = err instanceof ZmsError ? err : fromNetworkError(call.endpoint, err);
        // Only trouble where nothing valid was heard means "down"; a 404 or 403 is an answer.
        reachable = !zmsError.retryable;
        const safeToRepeat = call.method !== 'POST' || zmsError.status === 429 || zmsError.status === 503;
        if (!zmsError.retryable || !safeToRepeat || attempt >= attempts) throw zmsError;
        // A long Retry-After is not waited out here: the caller's queue retries the whole
        // reconcile later instead, at least that much later.
        if ((zmsError.retryAfterMs ?? 0) > MAX_INLINE_RETRY_AFTER_MS) throw zmsError;
        const backoff = Math.random() * Math.min(maxMs, baseMs * 2 ** (attempt - 1));
        await new Promise((r) => setTimeout(r, Math.max(backoff, zmsError.retryAfterMs ?? 0)));
      }
    }
  }

  return {
    async getDomain(domain) {
      const r = await send({
        method: 'GET',
        endpoint: 'GET /domain/{d}',
        path: `/domain/${enc(domain)}`,
        schema: domainSchema,
        accept: [404],
      });
      return r.status === 404 ? undefined : r.value;
    },
    async createSubdomain(parent, name, detail) {
      const body = {
        name,
        parent,
        adminUsers: detail.adminUsers,
        ...(detail.description ? { description: detail.description } : {}),
        ...(detail.tags
          ? { tags: Object.fromEntries(Object.entries(detail.tags).map(([k, list]) => [k, { list }])) }
          : {}),
      };
      const r = await send({
        method: 'POST',
        endpoint: 'POST /subdomain/{parent}',
        path: `/subdomain/${enc(parent)}`,
        body,
        schema: domainSchema,
      });
      return r.value!;
    },
    async deleteSubdomain(parent, name) {
      await send({
        method: 'DELETE',
        endpoint: 'DELETE /subdomain/{parent}/{name}',
        path: `/subdomain/${enc(parent)}/${enc(name)}`,
      });
    },
    async getRoles(domain) {
      const r = await send({
        method: 'GET',
        endpoint: 'GET /domain/{d}/roles',
        path: `/domain/${enc(domain)}/roles?members=true`,
        schema: rolesSchema,
      });
      return r.value!.list;
    },
    async getRole(domain, role, { expand = false } = {}) {
      const r = await send({
        method: 'GET',
        endpoint: 'GET /domain/{d}/role/{r}',
        path: `/domain/${enc(domain)}/role/${enc(role)}${expand ? '?expand=true' : ''}`,
        schema: roleSchema,
        accept: [404],
      });
      return r.status === 404 ? undefined : r.value;
    },
    async putRole(domain, role, members) {
      const body = { name: role, roleMembers: members.map((memberName) => ({ memberName })) };
      await send({
        method: 'PUT',
        endpoint: 'PUT /domain/{d}/role/{r}',
        path: `/domain/${enc(domain)}/role/${enc(role)}`,
        body,
      });
    },
    async getGroup(domain, group) {
      const r = await send({
        method: 'GET',
        endpoint: 'GET /domain/{d}/group/{g}',
        path: `/domain/${enc(domain)}/group/${enc(group)}`,
        schema: groupSchema,
        accept: [404],
      });
      return r.status === 404 ? undefined : r.value;
    },
    async listSubdomains(parent) {
      const prefix = `${parent}.`;
      const names: string[] = [];
      for (let skip: string | undefined, page = 0; page < 1_000; page++) {
        const query = new URLSearchParams({ prefix, limit: '5000', ...(skip ? { skip } : {}) });
        const r = await send({
          method: 'GET',
          endpoint: 'GET /domain',
          path: `/domain?${query}`,
          schema: domainListSchema,
          // Part of change detection: it must not wait behind reconciles either.
          priority: true,
        });
        for (const name of r.value!.names) if (!name.slice(prefix.length).includes('.')) names.push(name);
        skip = r.value!.next ?? undefined;
        if (!skip) break;
      }
      return names;
    },
    async getModifiedDomains(etag) {
      const r = await send({
        method: 'GET',
        endpoint: 'GET /sys/modified_domains',
        path: '/sys/modified_domains?metaonly=true',
        headers: etag ? { 'if-none-match': etag } : {},
        schema: modifiedDomainsSchema,
        accept: [304],
        priority: true,
      });
      const nextTag = headerValue(r.headers.etag) ?? etag ?? '';
      if (r.status === 304) return { etag: nextTag };
      return {
        etag: nextTag,
        domains: r.value!.domains.map((d) => ({
          name: d.domain.name,
          modified: d.domain.modified ?? undefined,
        })),
      };
    },
    close: () => agent.close(),
  };
}

function parseBody<T>(call: Call<T>, text: string): T {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ZmsError(
      'InvalidResponse',
      call.endpoint,
      `response is not JSON: ${JSON.stringify(text.slice(0, 120))}`,
    );
  }
  const parsed = call.schema!.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ZmsError(
      'InvalidResponse',
      call.endpoint,
      `response does not match the schema at ${issue?.path.join('.') || '(root)'}: ${issue?.message}`,
    );
  }
  return parsed.data;
}

/** ZMS errors are `{code, message}`, except where the authorize step answers with a bare string
 * or nothing at all: then the status is the code and the raw body the message. */
function errorMessage(status: number, text: string): string {
  try {
    const parsed = errorBodySchema.safeParse(JSON.parse(text));
    if (parsed.success && parsed.data.message) return `${status} ${parsed.data.message}`;
  } catch {
    // not JSON: fall through to the raw text
  }
  return `${status} ${text.trim().slice(0, 200) || '(empty body)'}`;
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
