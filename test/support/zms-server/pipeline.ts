import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { RequestCounters } from './counters.ts';
import { errorJson, invalidCredentials, ZmsError } from './errors.ts';
import type { ActiveFault, FaultInjector } from './faults.ts';
import { matchRoute, type Reply, type RouteMatch, type ZmsBackend } from './http.ts';
import { type Principal, principalFromCommonName } from './names.ts';
import { domainRoutes } from './routes-domains.ts';
import { groupMembershipRoutes } from './routes-group-membership.ts';
import { groupRoutes } from './routes-groups.ts';
import { membershipRoutes } from './routes-membership.ts';
import { policyRoutes } from './routes-policies.ts';
import { roleRoutes } from './routes-roles.ts';
import { sysRoutes } from './routes-sys.ts';

/**
 * The path every ZMS request takes: route → faults → mTLS authentication → handler → answer,
 * each answer counted. The plain-HTTP variant answers everything with ZMS's "must be over
 * TLS" error.
 */

export const BASE_PATH = '/zms/v1';
export const ROUTES = [
  ...domainRoutes,
  ...roleRoutes,
  ...membershipRoutes,
  ...groupRoutes,
  ...groupMembershipRoutes,
  ...policyRoutes,
  ...sysRoutes,
];
const MAX_BODY_BYTES = 1024 * 1024;

export interface PipelineDeps {
  backend: ZmsBackend;
  faults: FaultInjector;
  counters: RequestCounters;
  log: (message: string) => void;
}

interface Outgoing {
  status: number;
  headers: Record<string, string>;
  body?: string;
}

type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;

export function zmsRequestHandler(deps: PipelineDeps): RequestHandler {
  return (req, res) => {
    handleZmsRequest(deps, req, res).catch((error: unknown) => {
      deps.log(`zms-server: ${req.method} ${req.url} failed: ${(error as Error).stack ?? error}`);
      if (!res.headersSent) write(res, jsonOutgoing(500, errorJson(500)));
      else res.destroy();
    });
  };
}

export function plainHttpRequestHandler(deps: PipelineDeps): RequestHandler {
  return (req, res) => {
    const { method, match } = routeOf(req);
    const api = match.kind === 'found' ? match.route.api : match.kind === 'wrong-method' ? match.api : 'zms';
    deps.counters.record(routeKey(method, match), 400);
    write(res, jsonOutgoing(400, errorJson(400, `${api} request must be over TLS`)));
  };
}

async function handleZmsRequest(
  deps: PipelineDeps,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const routed = routeOf(req);
  const route = routeKey(routed.method, routed.match);
  const { latencyMs, outcome } = deps.faults.decide({
    method: routed.method,
    apiPath: routed.apiPath,
    route,
  });
  // Unref: a test that ends while a slow answer is pending must not wait for it.
  if (latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, latencyMs).unref());
  if (outcome?.kind === 'reset') {
    deps.counters.record(route, 'reset');
    req.socket.destroy();
    return;
  }
  const out = outcome?.kind === 'error' ? injectedError(outcome) : await answer(deps, req, routed);
  deps.counters.record(route, out.status);
  if (outcome?.kind === 'truncate' && out.body) {
    // Promise the whole body, deliver half, then hang up: the client sees a cut-off body.
    res.writeHead(out.status, { ...out.headers, 'Content-Length': String(Buffer.byteLength(out.body)) });
    res.write(out.body.slice(0, Math.floor(out.body.length / 2)), () => res.destroy());
    return;
  }
  if (outcome?.kind === 'malformed' && out.body) out.body = out.body.slice(0, Math.ceil(out.body.length / 2));
  write(res, out);
}

/** Authenticates the caller and runs the route's handler; ZMS errors become error answers. */
async function answer(deps: PipelineDeps, req: IncomingMessage, routed: Routed): Promise<Outgoing> {
  const { match, routeError } = routed;
  try {
    const principal = principalOf(req.socket as TLSSocket);
    if (!principal) throw invalidCredentials();
    if (routeError) throw routeError;
    if (match.kind === 'none') throw new ZmsError(404, 'Not Found');
    if (match.kind === 'wrong-method') throw new ZmsError(405, 'Method Not Allowed');
    const reply = match.route.handle({
      zms: deps.backend,
      api: match.route.api,
      principal,
      params: match.params,
      query: routed.query,
      headers: req.headers,
      body: await readBody(req),
    });
    return replyOutgoing(reply);
  } catch (error) {
    if (!(error instanceof ZmsError)) throw error;
    return errorOutgoing(error);
  }
}

/** The answer of an `error` fault: ZMS error JSON unless the rule gives its own body. */
function injectedError(fault: ActiveFault): Outgoing {
  const status = fault.status!;
  const headers: Record<string, string> = { ...fault.headers };
  if (fault.retryAfter !== undefined) headers['Retry-After'] = String(fault.retryAfter);
  const body = fault.body === undefined ? errorJson(status) : fault.body;
  if (typeof body === 'string')
    return { status, headers: { 'Content-Type': 'text/plain', ...headers }, body };
  return jsonOutgoing(status, body, headers);
}

interface Routed {
  method: string;
  /** The path after `/zms/v1`. */
  apiPath: string;
  query: URLSearchParams;
  match: RouteMatch;
  /** A path that cannot be decoded: answered 400 once the caller is authenticated. */
  routeError?: ZmsError;
}

function routeOf(req: IncomingMessage): Routed {
  const method = req.method ?? 'GET';
  const url = req.url ?? '/';
  const queryAt = url.indexOf('?');
  const path = queryAt < 0 ? url : url.slice(0, queryAt);
  const query = new URLSearchParams(queryAt < 0 ? '' : url.slice(queryAt + 1));
  if (!path.startsWith(`${BASE_PATH}/`)) return { method, apiPath: path, query, match: { kind: 'none' } };
  const apiPath = path.slice(BASE_PATH.length);
  try {
    return { method, apiPath, query, match: matchRoute(ROUTES, method, apiPath) };
  } catch (error) {
    if (!(error instanceof ZmsError)) throw error;
    return { method, apiPath, query, match: { kind: 'none' }, routeError: error };
  }
}

const routeKey = (method: string, match: RouteMatch): string =>
  match.kind === 'found' ? match.route.key : `${method} (unmatched)`;

/** The caller of a TLS connection, worked out once per connection from its client certificate. */
const principals = new WeakMap<TLSSocket, Principal | null>();

function principalOf(socket: TLSSocket): Principal | undefined {
  let principal = principals.get(socket);
  if (principal === undefined) {
    principal = null;
    if (socket.authorized) {
      const commonName = socket.getPeerCertificate()?.subject?.CN as string | string[] | undefined;
      const name = Array.isArray(commonName) ? commonName[0] : commonName;
      if (name) principal = principalFromCommonName(name) ?? null;
    }
    principals.set(socket, principal);
  }
  return principal ?? undefined;
}

async function readBody(req: IncomingMessage): Promise<string> {
  if (req.headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined)
    return '';
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new ZmsError(413, 'Request body too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function replyOutgoing(reply: Reply): Outgoing {
  if (reply.json === undefined) return { status: reply.status, headers: { ...reply.headers } };
  return jsonOutgoing(reply.status, reply.json, reply.headers);
}

function errorOutgoing(error: ZmsError): Outgoing {
  const headers: Record<string, string> = {};
  if (error.status === 401) headers['WWW-Authenticate'] = 'AthenzX509Certificate realm="athenz"';
  if (error.rawBody === undefined)
    return jsonOutgoing(error.status, errorJson(error.status, error.message), headers);
  if (error.rawBody !== '') headers['Content-Type'] = 'text/plain';
  return { status: error.status, headers, body: error.rawBody };
}

function jsonOutgoing(status: number, json: unknown, headers: Record<string, string> = {}): Outgoing {
  return { status, headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(json) };
}

function write(res: ServerResponse, out: Outgoing): void {
  const headers: Record<string, string> = { ...out.headers };
  // 204 and 304 carry no body and, per RFC 9110, no Content-Length describing one.
  if (out.status !== 204 && out.status !== 304)
    headers['Content-Length'] = String(Buffer.byteLength(out.body ?? ''));
  res.writeHead(out.status, headers);
  res.end(out.body);
}
