/**
 * The operator process: reads its configuration, starts the caches, health and metrics
 * endpoints, waits for leadership when asked to, reconciles until SIGTERM, then shuts down
 * gracefully (stop intake, finish work in flight, release the Lease, exit 0).
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import * as k8s from '@kubernetes/client-node';
import { Operator } from './controller/operator.ts';
import { ConfigError, loadConfig, usage } from './runtime/config.ts';
import { closeServer, healthRoutes, listen, metricsRoutes } from './runtime/http-server.ts';
import { LeaderElector } from './runtime/leader-election.ts';
import { createLogger, flushLogger } from './runtime/logger.ts';
import { createMetrics } from './runtime/metrics.ts';
import { createZmsClient } from './zms/client.ts';

// package.json sits beside src/ and dist/ alike (the image copies it too).
const VERSION = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

if (process.argv.includes('--version')) {
  process.stdout.write(`athenz-rbac-operator ${VERSION}\n`);
  process.exit(0);
}

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  process.stdout.write(
    `athenz-rbac-operator: Athenz roles to namespace RoleBindings\n\nFlags:\n${usage()}\n`,
  );
  process.exit(0);
}

let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig(process.argv.slice(2), process.env);
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`athenz-rbac-operator: ${err.message}\n`);
  process.exit(2);
}

const log = createLogger(config['log-level']);
const identity = config['pod-name'] ?? hostname();
const metrics = createMetrics();
const kubeConfig = new k8s.KubeConfig();
kubeConfig.loadFromDefault();

const zms = createZmsClient({
  url: config['zms-url'],
  tls: { certFile: config['zms-cert'], keyFile: config['zms-key'], caFile: config['zms-ca'] },
  timeoutMs: config['zms-timeout'],
  concurrency: config['zms-concurrency'],
  auditRef: `athenz-rbac-operator ${identity}`,
  observe: ({ endpoint, method, status, seconds }) => {
    metrics.zmsRequests.inc({ endpoint, method, code: String(status) });
    metrics.zmsLatency.observe({ endpoint }, seconds);
  },
  onCredentialsReload: () => log.info('ZMS client certificate reloaded'),
  onCredentialsError: (err) =>
    log.warn('ZMS client certificate files unreadable; keeping the previous ones', { error: String(err) }),
});

const operator = new Operator(
  kubeConfig,
  zms,
  {
    allowedClusterRoles: config['allowed-cluster-roles'],
    excludedNamespaces: config['excluded-namespaces'],
    operatorNamespace: config.namespace,
    operatorPrincipal: config.operatorPrincipal,
    workers: config.workers,
    namespaceConcurrency: config['namespace-concurrency'],
    resyncPeriodMs: config['resync-period'],
    fieldManager: 'athenz-rbac-operator',
    instance: identity,
    defaultIntervalMs: 30_000,
  },
  log,
  metrics,
);

const elector = config['leader-elect']
  ? new LeaderElector(kubeConfig, {
      namespace: config.namespace,
      name: config['lease-name'],
      identity,
      leaseDurationMs: config['lease-duration'],
      renewDeadlineMs: config['renew-deadline'],
      retryPeriodMs: config['retry-period'],
      log,
      onLeadership: (leading) => metrics.leader.set({ name: config['lease-name'] }, leading ? 1 : 0),
    })
  : undefined;

const ready = () => {
  if (!operator.cachesSynced) return { ok: false, detail: 'caches not synced' };
  if (elector && !elector.leading)
    return { ok: true, detail: 'standby: caches synced, waiting for leadership' };
  return operator.firstPassDone
    ? { ok: true, detail: 'ok' }
    : { ok: false, detail: 'first sync in progress' };
};
const healthAddr = config['health-addr'];
const metricsAddr = config['metrics-addr'];
const sameAddress = healthAddr && metricsAddr && healthAddr.port === metricsAddr.port;
const healthServer = healthAddr
  ? await listen(healthAddr, {
      ...healthRoutes({ ready }),
      ...(sameAddress ? metricsRoutes(metrics.registry) : {}),
    })
  : undefined;
const metricsServer =
  metricsAddr && !sameAddress ? await listen(metricsAddr, metricsRoutes(metrics.registry)) : undefined;

log.info('starting', {
  version: VERSION,
  identity,
  namespace: config.namespace,
  zmsUrl: config['zms-url'],
  principal: config.operatorPrincipal,
  allowedClusterRoles: config['allowed-cluster-roles'],
  leaderElection: Boolean(elector),
});

let shuttingDown = false;
async function shutdown(signal: string): Promise<void> {
  if (shuttingDown) return;
  shuttingDown = true;
  log.info('shutting down', { signal });
  await operator.stop(config['shutdown-timeout']);
  await elector?.release();
  await zms.close();
  await Promise.all([closeServer(healthServer), closeServer(metricsServer)]);
  log.info('stopped');
  await flushLogger(log);
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));

// Workers start only on caches that have listed successfully: acting on a cache whose first list
// failed would read "no namespaces" and remove every binding (readiness stays false meanwhile).
await operator.startCaches();
if (shuttingDown) {
  // SIGTERM arrived while the caches were still listing: shutdown() exits.
} else if (elector) {
  log.info('caches synced; waiting for leadership');
  await elector.run({
    onStartedLeading: () => {
      log.info('became leader; reconciling');
      operator.startWorkers();
    },
    onStoppedLeading: () => {
      // A leader that lost its Lease may be racing the new one: stop at once, as
      // controller-runtime does, and let the Deployment restart it as a standby.
      log.error('lost leadership; exiting');
      void flushLogger(log).then(() => process.exit(1));
    },
  });
} else {
  log.info('caches synced; reconciling');
  operator.startWorkers();
}
