import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';

/**
 * `/healthz` (the process is alive), `/readyz` (caches synced and, on the leader, the first
 * full pass done: a standby is ready too, so a rolling update can proceed) and `/metrics`.
 * Both listeners may share one port.
 */
export interface Probes {
  ready: () => { ok: boolean; detail: string };
}

export async function listen(
  address: { host: string; port: number },
  routes: Record<string, () => Promise<{ status: number; type: string; body: string }>>,
): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const route = routes[path];
    if (!route || req.method !== 'GET') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    route().then(
      ({ status, type, body }) => res.writeHead(status, { 'content-type': type }).end(body),
      (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${String(err)}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(address.port, address.host, () => resolve());
  });
  return server;
}

export function healthRoutes(probes: Probes) {
  return {
    '/healthz': async () => ({ status: 200, type: 'text/plain', body: 'ok\n' }),
    '/readyz': async () => {
      const { ok, detail } = probes.ready();
      return { status: ok ? 200 : 503, type: 'text/plain', body: `${detail}\n` };
    },
  };
}

export function metricsRoutes(registry: Registry) {
  return {
    '/metrics': async () => ({ status: 200, type: registry.contentType, body: await registry.metrics() }),
  };
}

export function closeServer(server: Server | undefined): Promise<void> {
  if (!server) return Promise.resolve();
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}
