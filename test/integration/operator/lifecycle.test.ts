import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { selecting, VIEWERS } from '../../support/cluster-fixtures.ts';
import {
  ATHENZ_ADMIN,
  type Harness,
  OPERATOR_PRINCIPAL,
  type RunningOperator,
  startHarness,
} from '../../support/operator-harness.ts';
import { waitFor } from '../../support/wait.ts';

let h: Harness;
let op: RunningOperator;
const PARENT = 'eks.life';

beforeAll(async () => {
  h = await startHarness();
  await h.ensureParentDomain(PARENT);
  op = await h.startOperator();
}, 60_000);
afterAll(async () => h?.stop());

/** Deletes a namespace as `kubectl delete namespace` does: kube-controller-manager's namespace
 * controller empties it (the operator's RoleBindings included) and removes it. */
async function deleteNamespace(name: string) {
  await h.cluster.core.deleteNamespace({ name });
  await waitFor(
    `namespace ${name} to be gone`,
    async () =>
      h.cluster.core.readNamespace({ name }).then(
        () => false,
        (e: { code?: number }) => e.code === 404,
      ),
    { timeoutMs: 30_000 },
  );
}

describe('which namespaces a mapping manages', () => {
  it('follows label changes: an unselected namespace loses its managed bindings', async () => {
    await h.cluster.createMapping('labels', {
      parentDomain: PARENT,
      ...selecting('labels'),
      roles: VIEWERS,
      syncInterval: '2s',
    });
    await h.cluster.createNamespace('labelled', { 'test/mapping': 'labels' });
    await h.cluster.waitForSubjects('labelled', 'athenz.viewers.view', []);
    await h.cluster.labelNamespace('labelled', { 'test/mapping': null });
    await waitFor(
      'the binding to go',
      async () => (await h.cluster.getRoleBinding('labelled', 'athenz.viewers.view')) === undefined,
    );
    const m = await h.cluster.waitForCondition('labels', 'Ready', 'True', 'NoNamespacesSelected');
    expect(m.status?.namespacesSynced).toBe('0/0');
  });

  it('never maps a nested domain <parent>.a.b onto namespace b', async () => {
    await h.admin.ensureDomain(`${PARENT}.outer`, [ATHENZ_ADMIN]);
    await h.admin.ensureDomain(`${PARENT}.outer.inner`, [ATHENZ_ADMIN]);
    await h.admin.putRole(`${PARENT}.outer.inner`, 'viewers', ['user.intruder']);
    await h.cluster.createMapping('nested', {
      parentDomain: PARENT,
      ...selecting('nested'),
      roles: VIEWERS,
      domain: { adminUsers: [ATHENZ_ADMIN] },
      syncInterval: '2s',
    });
    await h.cluster.createNamespace('inner', { 'test/mapping': 'nested' });
    await h.cluster.waitForSubjects('inner', 'athenz.viewers.view', []);
    await h.admin.addMember(`${PARENT}.inner`, 'viewers', 'user.owner');
    await h.admin.addMember(`${PARENT}.outer.inner`, 'viewers', 'user.intruder2');
    await h.cluster.waitForSubjects('inner', 'athenz.viewers.view', ['user.owner']);
  });

  it('excludes system namespaces and the listed ones even when the selector matches', async () => {
    await h.cluster.createNamespace('plain');
    await h.cluster.createMapping('everything', {
      parentDomain: PARENT,
      roles: [{ athenzRole: 'readers', clusterRole: 'view' }],
      excludedNamespaces: ['default', 'labelled', 'inner', 'deleted-retain', 'deleted-delete', 'idle'],
      // Every namespace but the exclusions; a separate role keeps it clear of the other mappings.
      syncInterval: '2s',
    });
    await h.cluster.waitForSubjects('plain', 'athenz.readers.view', []);
    const m = await h.cluster.waitForCondition('everything', 'Ready', 'True');
    for (const ns of ['kube-system', 'kube-public', 'kube-node-lease', 'athenz-rbac-system', 'default']) {
      const managed = await h.cluster.rbac.listNamespacedRoleBinding({
        namespace: ns,
        labelSelector: 'app.kubernetes.io/managed-by=athenz-rbac-operator',
      });
      expect(managed.items).toEqual([]);
    }
    expect(m.status?.namespaces?.selected).toBeGreaterThan(0);
    await h.cluster.deleteMapping('everything');
    await waitFor(
      'the mapping to be gone',
      async () => (await h.cluster.getMapping('everything')) === undefined,
    );
  });
});

describe('deleting things', () => {
  it('a deleted mapping removes its RoleBindings before it goes (and leaves Athenz alone)', async () => {
    await h.cluster.createMapping('going', {
      parentDomain: PARENT,
      ...selecting('going'),
      roles: VIEWERS,
      syncInterval: '2s',
    });
    await h.cluster.createNamespace('going', { 'test/mapping': 'going' });
    await h.cluster.waitForSubjects('going', 'athenz.viewers.view', []);
    expect((await h.cluster.getMapping('going'))?.metadata.finalizers).toEqual(['rbac.athenz.io/cleanup']);
    await h.cluster.deleteMapping('going');
    await waitFor('the mapping to be gone', async () => (await h.cluster.getMapping('going')) === undefined);
    expect(await h.cluster.getRoleBinding('going', 'athenz.viewers.view')).toBeUndefined();
    expect(await h.admin.getDomain(`${PARENT}.going`)).toBeDefined();
  });

  it('keeps the Athenz domain of a deleted namespace by default', async () => {
    await h.cluster.createMapping('retain', {
      parentDomain: PARENT,
      ...selecting('retain'),
      roles: VIEWERS,
      syncInterval: '2s',
    });
    await h.cluster.createNamespace('deleted-retain', { 'test/mapping': 'retain' });
    await h.cluster.waitForSubjects('deleted-retain', 'athenz.viewers.view', []);
    await deleteNamespace('deleted-retain');
    await h.cluster.waitForCondition('retain', 'Ready', 'True', 'NoNamespacesSelected');
    expect(await h.admin.getDomain(`${PARENT}.deleted-retain`)).toBeDefined();
  });

  it('deletes the Athenz domain of a deleted namespace with onNamespaceDelete: Delete, only if it created it', async () => {
    await h.admin.ensureDomain(`${PARENT}.foreign`, [ATHENZ_ADMIN, OPERATOR_PRINCIPAL]);
    await h.cluster.createMapping('cleanup', {
      parentDomain: PARENT,
      ...selecting('cleanup'),
      roles: VIEWERS,
      domain: { onNamespaceDelete: 'Delete' },
      syncInterval: '2s',
    });
    await h.cluster.createNamespace('deleted-delete', { 'test/mapping': 'cleanup' });
    await h.cluster.createNamespace('foreign', { 'test/mapping': 'cleanup' });
    await h.cluster.waitForSubjects('deleted-delete', 'athenz.viewers.view', []);
    await h.cluster.waitForSubjects('foreign', 'athenz.viewers.view', []);
    await deleteNamespace('deleted-delete');
    await deleteNamespace('foreign');
    await waitFor(
      'the created domain to be deleted',
      async () => (await h.admin.getDomain(`${PARENT}.deleted-delete`)) === undefined,
    );
    await op.waitForLog({
      message: 'kept Athenz domain of deleted namespace: not created by this cluster and mapping',
      namespace: 'foreign',
    });
    expect(await h.admin.getDomain(`${PARENT}.foreign`)).toBeDefined();
  });
});

describe('a quiet cluster', () => {
  it('costs one change poll and one subdomain listing per interval, and no Kubernetes write', async () => {
    await h.cluster.createMapping('idle', {
      parentDomain: PARENT,
      ...selecting('idle'),
      roles: VIEWERS,
      syncInterval: '2s',
    });
    for (const ns of ['idle-1', 'idle-2', 'idle-3'])
      await h.cluster.createNamespace(ns, { 'test/mapping': 'idle' });
    await h.cluster.waitForCondition('idle', 'Ready', 'True', 'Synced');
    await waitFor(
      '3/3 synced',
      async () => (await h.cluster.getMapping('idle'))?.status?.namespacesSynced === '3/3',
    );
    const versions = async () => {
      const bindings = await h.cluster.rbac.listRoleBindingForAllNamespaces({
        labelSelector: 'rbac.athenz.io/mapping=idle',
      });
      const mapping = await h.cluster.getMapping('idle');
      return JSON.stringify([
        bindings.items.map((b) => b.metadata?.resourceVersion),
        (mapping?.metadata as { resourceVersion?: string } | undefined)?.resourceVersion,
      ]);
    };
    // Let the changes the setup made settle: one poll that answers 304 marks the start.
    const settled = h.zms.counters.count('GET /sys/modified_domains', 304);
    await waitFor(
      'a change poll answered 304',
      () => h.zms.counters.count('GET /sys/modified_domains', 304) > settled || undefined,
    );
    const before = await versions();
    const total = h.zms.counters.snapshot().total;
    const polls = h.zms.counters.count('GET /sys/modified_domains');
    const lists = h.zms.counters.count('GET /domain');
    await waitFor(
      'three more change polls',
      () => h.zms.counters.count('GET /sys/modified_domains') >= polls + 3 || undefined,
      {
        timeoutMs: 10_000,
      },
    );
    const requests = h.zms.counters.snapshot().total - total;
    const pollsMade = h.zms.counters.count('GET /sys/modified_domains') - polls;
    // The listing (which finds deleted domains) follows each poll: the last one may be in flight.
    const listsMade = h.zms.counters.count('GET /domain') - lists;
    expect(Math.abs(listsMade - pollsMade)).toBeLessThanOrEqual(1);
    expect(requests).toBe(pollsMade + listsMade);
    expect(await versions()).toBe(before);
  });
});
