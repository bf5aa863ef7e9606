import type { IncomingHttpHeaders } from 'node:http';
import type { z } from 'zod';
import { badRequest } from './errors.ts';
import type { Quotas } from './model.ts';
import type { Principal } from './names.ts';
import type { DomainSigner } from './signing.ts';
import type { ZmsStore } from './store.ts';

/** What the route handlers work on. `store` is replaced when a test resets the server. */
export interface ZmsBackend {
  store: ZmsStore;
  quotas: Quotas;
  signer: DomainSigner;
}

export interface RequestContext {
  zms: ZmsBackend;
  /** The ZMS operation name (`getRole`, `putMembership`, ...) used in error messages. */
  api: string;
  principal: Principal;
  /** Path parameters, URI-decoded and lowercased (every ZMS path parameter is a name). */
  params: Record<string, string>;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface Reply {
  status: number;
  json?: unknown;
  headers?: Record<string, string>;
}

export type Handler = (ctx: RequestContext) => Reply;

export interface Route {
  method: string;
  template: string;
  api: string;
  handle: Handler;
  /** `GET /domain/{domain}/role/{role}`: the key for counters and fault matching. */
  key: string;
  pattern: RegExp;
  paramNames: string[];
}

export function defineRoute(method: string, template: string, api: string, handle: Handler): Route {
  const paramNames: string[] = [];
  const source = template.replace(/[.]/g, '\\.').replace(/\{(\w+)\}/g, (_, name: string) => {
    paramNames.push(name);
    return '([^/]+)';
  });
  return {
    method,
    template,
    api,
    handle,
    key: `${method} ${template}`,
    pattern: new RegExp(`^${source}$`),
    paramNames,
  };
}

export type RouteMatch =
  | { kind: 'found'; route: Route; params: Record<string, string> }
  | { kind: 'wrong-method'; api: string }
  | { kind: 'none' };

export function matchRoute(routes: readonly Route[], method: string, path: string): RouteMatch {
  let wrongMethod: Route | undefined;
  for (const route of routes) {
    const found = route.pattern.exec(path);
    if (!found) continue;
    if (route.method !== method) {
      wrongMethod ??= route;
      continue;
    }
    const params: Record<string, string> = {};
    route.paramNames.forEach((name, i) => {
      params[name] = decodeName(found[i + 1]!);
    });
    return { kind: 'found', route, params };
  }
  return wrongMethod ? { kind: 'wrong-method', api: wrongMethod.api } : { kind: 'none' };
}

function decodeName(segment: string): string {
  try {
    return decodeURIComponent(segment).toLowerCase();
  } catch {
    throw badRequest(`Invalid path segment: ${segment}`);
  }
}

export const ok = (json: unknown, headers?: Record<string, string>): Reply => ({
  status: 200,
  json,
  headers,
});
export const noContent = (): Reply => ({ status: 204 });

/** `Athenz-Return-Object: true` turns a 204 into 200 with the written object. */
export const objectOrNoContent = (ctx: RequestContext, object: () => unknown): Reply =>
  header(ctx, 'athenz-return-object') === 'true' ? ok(object()) : noContent();

export function header(ctx: RequestContext, name: string): string | undefined {
  const value = ctx.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

export const queryFlag = (ctx: RequestContext, name: string): boolean =>
  ctx.query.get(name)?.toLowerCase() === 'true';

/** `limit` must be a positive integer when present. */
export function queryLimit(ctx: RequestContext): number | undefined {
  const raw = ctx.query.get('limit');
  if (raw === null) return undefined;
  const limit = Number(raw);
  if (!Number.isInteger(limit) || limit <= 0) throw badRequest(`${ctx.api}: Invalid limit: ${raw}`);
  return limit;
}

/**
 * The JSON body as an object. Fails like ZMS: no body → "Missing or malformed <Type>", bad
 * JSON → "Invalid Object: ...". The schema check comes later (`validateBody`), after the
 * authorization step, as in ZMS.
 */
export function readJsonBody(ctx: RequestContext, typeName: string): Record<string, unknown> {
  if (ctx.body.trim() === '') throw badRequest(`Missing or malformed ${typeName}`);
  let value: unknown;
  try {
    value = JSON.parse(ctx.body);
  } catch (error) {
    throw badRequest(`Invalid Object: ${(error as Error).message}`);
  }
  if (value === null) throw badRequest(`Missing or malformed ${typeName}`);
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw badRequest(`Invalid Object: expected a JSON object for ${typeName}`);
  }
  return value as Record<string, unknown>;
}

/** Checks a parsed body against its schema: 400 "Invalid <Type> error: <detail>". Unknown fields are dropped. */
export function validateBody<T>(value: unknown, typeName: string, schema: z.ZodType<T>): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const detail = result.error.issues
    .map((issue) => (issue.path.length ? `${issue.path.join('.')}: ${issue.message}` : issue.message))
    .join('; ');
  throw badRequest(`Invalid ${typeName} error: ${detail}`);
}
