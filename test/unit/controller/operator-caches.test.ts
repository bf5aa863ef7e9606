import type http from 'node:http';
import { afterEach, describe, expect, it } from '@jest/globals';
import { Operator } from '../../../src/controller/operator.ts';
import { createMetrics } from '../../../src/runtime/metrics.ts';
import { FakeApiServer, type FakeRequest, holdWatch, json } from '../../support/fakes/api-server.ts';
import { FakeZms } from '../../support/fakes/zms.ts';
import { captureLogger } from '../../support/log-capture.ts';
import { waitFor } from '../../support/wait.ts';

/**
 * The operator never acts on a cache that does not reflect the API server: workers start only
 * after every informer listed successfully, and a cache that is re-listing holds reconciles.
 * An API server that fails a LIST on demand is the one thing the real control plane cannot give,
 * hence a fake one here.
 */
const NAMESPACES = '/api/v1/namespaces';
const MAPPINGS = '/apis/rbac.athenz.io/v1alpha1/athenzrolemappings';
const BINDINGS = '/apis/rbac.authorization.k8s.io/v1/rolebindings';
const BINDING_PATH = '/apis/rbac.authorization.k8s.io/v1/namespaces/team-a/rolebindings/athenz.viewers.view';

const mapping = {
  apiVersion: 'rbac.athenz.io/v1alpha1',
  kind: 'AthenzRoleMapping',
  metadata: {
    name: 'm1',
    uid: 'uid-m1',
    generation: 1,
    resourceVersion: '10',
    creationTimestamp: '2026-01-01T00:00:00Z',
    finalizers: ['rbac.athenz.io/cleanup'],
  },
  spec: {
    parentDomain: 'eks.users',
    roles: [{ athenzRole: 'viewers', clusterRole: 'view' }],
    syncInterval: '2s',
  },
};
const binding = {
  apiVersion: 'rbac.authorization.k8s.io/v1',
  kind: 'RoleBinding',
  metadata: {
    name: 'athenz.viewers.view',
    namespace: 'team-a',
    uid: 'uid-rb',
    resourceVersion: '11',
    labels: { 'app.kubernetes.io/managed-by': 'athenz-rbac-operator', 'rbac.athenz.io/mapping': 'm1' },
    annotations: {
      'rbac.athenz.io/athenz-domain': 'eks.users.team-a',
      'rbac.athenz.io/athenz-role': 'viewers',
    },
    ownerReferences: [
      { apiVersion: 'rbac.athenz.io/v1alpha1', kind: 'AthenzRoleMapping', name: 'm1', uid: 'uid-m1' },
    ],
  },
  roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' },
  subjects: [{ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'user.jane' }],
};
const namespace = {
  apiVersion: 'v1',
  kind: 'Namespace',
  metadata: { name: 'team-a', uid: 'uid-ns', resourceVersion: '12' },
};

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

async function start() {
  const api = new FakeApiServer();
  api.objects.set(NAMESPACES, [namespace]);
  api.objects.set(MAPPINGS, [mapping]);
  api.objects.set(BINDINGS, [binding]);
  const kc = await api.start();
  const zms = new FakeZms();
  zms
    .addDomain('eks.users')
    .addDomain('eks.users.team-a')
    .setRole('eks.users.team-a', 'viewers', ['user.jane']);
  const { log, entries } = captureLogger();
  const metrics = createMetrics({ defaultMetrics: false });
  const operator = new Operator(
    kc,
    zms,
    {
      allowedClusterRoles: ['view'],
      excludedNamespaces: [],
      operatorNamespace: 'athenz-rbac-system',
      operatorPrincipal: 'athenz.k8s.operator',
      workers: 2,
      namespaceConcurrency: 4,
      resyncPeriodMs: 600_000,
      fieldManager: 'athenz-rbac-operator',
      instance: 'unit',
      defaultIntervalMs: 30_000,
    },
    log,
    metrics,
  );
  cleanup.push(async () => {
    await operator.stop(1_000);
    await api.stop();
  });
  return { api, zms, operator, entries, metrics };
}

const deletes = (api: FakeApiServer) => api.writes.filter((w) => w.method === 'DELETE');
const statusWrites = (api: FakeApiServer) => api.writes.filter((w) => w.path.endsWith('/status'));

describe('Operator caches', () => {
  it('waits for a successful list before starting workers when the first Namespace LIST fails', async () => {
    const t = await start();
    let failed = 0;
    t.api.intercept = (req, res) => {
      if (
        req.method === 'GET' &&
        req.path === NAMESPACES &&
        req.query.get('watch') !== 'true' &&
        failed === 0
      ) {
        failed++;
        json(res, 500, { kind: 'Status', code: 500, reason: 'InternalError' });
        return true;
      }
      return false;
    };
    expect(() => t.operator.startWorkers()).toThrow(/before every cache had synced/);
    await t.operator.startCaches();
    expect(t.operator.cachesSynced).toBe(true);
    expect(t.api.count('GET', NAMESPACES)).toBe(2);

    t.operator.startWorkers();
    await waitFor('the mapping status to be written', () => statusWrites(t.api).length > 0);
    expect(deletes(t.api)).toEqual([]);
    const status = JSON.parse(statusWrites(t.api).at(-1)!.body).status;
    expect(status.namespacesSynced).toBe('1/1');
  });

  it('holds reconciles while a cache re-lists after a watch error, then catches up', async () => {
    const t = await start();
    await t.operator.startCaches();
    t.operator.startWorkers();
    await waitFor('the first status write', () => statusWrites(t.api).length > 0);

    // The Namespace watch is cut and fails to come back; the next attempt hangs (an API server
    // in trouble), so the cache cannot be trusted until it answers.
    const hanging: http.ServerResponse[] = [];
    let failedOnce = false;
    t.api.intercept = (req: FakeRequest, res) => {
      if (req.path !== NAMESPACES || req.query.get('watch') !== 'true') return false;
      if (!failedOnce) {
        failedOnce = true;
        json(res, 500, { kind: 'Status', code: 500, reason: 'InternalError' });
      } else {
        hanging.push(res);
      }
      return true;
    };
    t.api.dropWatches(NAMESPACES);
    await waitFor('the namespace watch to hang after failing', () => hanging.length > 0);
    expect(t.operator.cachesHealthy).toBe(false);

    // Jane leaves Athenz; the operator hears of it but must not act on the stale cache.
    const writesBefore = t.api.writes.length;
    t.zms.setRole('eks.users.team-a', 'viewers', []).markChanged('eks.users.team-a');
    await waitFor('the reconcile to be held', () =>
      t.entries.some((e) => e.message === 'reconcile held: a cache is re-listing'),
    );
    expect(t.api.writes.length).toBe(writesBefore);

    // The watch comes back: the held work runs.
    t.api.intercept = undefined;
    for (const res of hanging) holdWatch(res);
    await waitFor('the binding to be updated', () =>
      t.api.writes.some((w) => w.method === 'PATCH' && w.path === BINDING_PATH),
    );
    const applied = JSON.parse(t.api.writes.find((w) => w.path === BINDING_PATH)!.body);
    expect(applied.subjects).toEqual([]);
    expect(t.operator.cachesHealthy).toBe(true);
  });

  it('ignores status-only updates of a mapping (its own status writes among them)', async () => {
    const t = await start();
    await t.operator.startCaches();
    t.operator.startWorkers();
    await waitFor('the first status write', () => statusWrites(t.api).length > 0);
    await waitFor(
      'the queue to be idle',
      () => t.operator.queue.depth === 0 && t.operator.queue.active === 0,
    );
    const adds = async () => (await t.metrics.queueAdds.get()).values.reduce((sum, v) => sum + v.value, 0);
    const before = await adds();

    const statusOnly = {
      ...mapping,
      metadata: { ...mapping.metadata, resourceVersion: '30' },
      status: { mode: 'Active' },
    };
    t.api.emit(MAPPINGS, 'MODIFIED', statusOnly);
    await waitFor('the update to be seen and ignored', () =>
      t.entries.some((e) => e.message === 'mapping update ignored: status or metadata only'),
    );
    expect(await adds()).toBe(before);

    const specChange = {
      ...mapping,
      metadata: { ...mapping.metadata, resourceVersion: '31', generation: 2 },
    };
    t.api.emit(MAPPINGS, 'MODIFIED', specChange);
    await waitFor('a spec change to enqueue the mapping', async () => (await adds()) > before);
  });

  it('abandons reconciles still running at the shutdown deadline instead of waiting for them', async () => {
    const t = await start();
    t.zms.beforeAnswer = (call) => (call === 'getRoles' ? new Promise<void>(() => undefined) : undefined);
    await t.operator.startCaches();
    t.operator.startWorkers();
    await waitFor('a reconcile to hang on ZMS', () => t.zms.count('getRoles') > 0);
    await t.operator.stop(200);
    expect(t.entries).toContainEqual(
      expect.objectContaining({
        message: 'shutdown deadline passed; abandoning reconciles in flight',
        active: 1,
      }),
    );
  });
});
