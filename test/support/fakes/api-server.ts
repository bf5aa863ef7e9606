import http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as k8s from '@kubernetes/client-node';

/**
 * A tiny stand-in for kube-apiserver, for the few unit tests that need an API server to
 * misbehave in ways a real one will not on demand (a first LIST that fails, a request that never
 * answers). It serves lists from `objects`, holds watches open without events, records every
 * write, and lets a test answer any request itself first (`intercept`). Everything else about
 * Kubernetes is tested against the real control plane.
 */
export interface FakeRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  body: string;
}

/** Return true when the response was handled (or deliberately left hanging). */
export type Interceptor = (req: FakeRequest, res: http.ServerResponse) => boolean;

export class FakeApiServer {
  /** Collection path (e.g. `/api/v1/namespaces`) → the items a LIST returns. */
  readonly objects = new Map<string, unknown[]>();
  readonly writes: FakeRequest[] = [];
  readonly requests: FakeRequest[] = [];
  intercept: Interceptor | undefined;
  readonly #server: http.Server;
  readonly #open = new Set<http.ServerResponse>();
  readonly #watches = new Map<http.ServerResponse, string>();

  constructor() {
    this.#server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => {
        body += chunk;
      });
      req.on('end', () => this.#handle(req, res, body));
    });
  }

  async start(): Promise<k8s.KubeConfig> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    const { port } = this.#server.address() as AddressInfo;
    const kc = new k8s.KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'fake', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
      users: [{ name: 'fake', token: 'fake' }],
      contexts: [{ name: 'fake', cluster: 'fake', user: 'fake' }],
      currentContext: 'fake',
    });
    return kc;
  }

  async stop(): Promise<void> {
    for (const res of this.#open) res.destroy();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  /** Sends a watch event to every open watch of `path`. */
  emit(path: string, type: 'ADDED' | 'MODIFIED' | 'DELETED', object: unknown): void {
    for (const [res, watched] of this.#watches) {
      if (watched === path) res.write(`${JSON.stringify({ type, object })}\n`);
    }
  }

  /** Ends the open watches of `path`, as an API server restart would: clients reconnect. */
  dropWatches(path: string): void {
    for (const [res, watched] of this.#watches) if (watched === path) res.end();
  }

  count(method: string, path: string): number {
    return this.requests.filter(
      (r) => r.method === method && r.path === path && r.query.get('watch') !== 'true',
    ).length;
  }

  #handle(req: http.IncomingMessage, res: http.ServerResponse, body: string) {
    const url = new URL(req.url ?? '/', 'http://fake');
    const request = { method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, body };
    this.requests.push(request);
    if (request.method !== 'GET') this.writes.push(request);
    this.#open.add(res);
    res.on('close', () => this.#open.delete(res));
    if (this.intercept?.(request, res)) return;
    if (request.query.get('watch') === 'true') {
      holdWatch(res);
      this.#watches.set(res, request.path);
      res.on('close', () => this.#watches.delete(res));
      return;
    }
    if (request.method === 'GET' && this.objects.has(request.path)) {
      const items = this.objects.get(request.path);
      json(res, 200, { apiVersion: 'v1', kind: 'List', metadata: { resourceVersion: '100' }, items });
      return;
    }
    if (request.method === 'GET') {
      json(res, 404, { kind: 'Status', code: 404, reason: 'NotFound' });
      return;
    }
    json(res, request.method === 'POST' ? 201 : 200, body ? JSON.parse(body) : {});
  }
}

export function json(res: http.ServerResponse, code: number, value: unknown): void {
  res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(value));
}

/** Answers a watch and keeps it open with no events. */
export function holdWatch(res: http.ServerResponse): void {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.flushHeaders();
}
