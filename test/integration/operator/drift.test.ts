import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
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
const PARENT = 'eks.drift';
const merge = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

beforeAll(async () => {
  h = await startHarness();
  await h.ensureParentDomain(PARENT);
  op = await h.startOperator();
}, 60_000);
afterAll(async () => h?.stop());

async function bound(name: string, members: string[], clusterRole = 'view') {
  await h.admin.ensureDomain(`${PARENT}.${name}`, [ATHENZ_ADMIN, OPERATOR_PRINCIPAL]);
  await h.admin.putRole(`${PARENT}.${name}`, 'viewers', members);
  await h.cluster.createMapping(name, {
    parentDomain: PARENT,
    namespaceSelector: { matchLabels: { 'test/mapping': name } },
    roles: [{ athenzRole: 'viewers', clusterRole }],
    syncInterval: '1h',
  });
  await h.cluster.createNamespace(name, { 'test/mapping': name });
  await h.cluster.waitForSubjects(name, `athenz.viewers.${clusterRole}`, members);
}

describe('managed RoleBindings are kept as Athenz says', () => {
  it('reverts a subject added by hand, without waiting for a poll, with the reason DriftRepaired', async () => {
    await bound('edited', ['user.alice']);
    await h.cluster.rbac.patchNamespacedRoleBinding(
      {
        namespace: 'edited',
        name: 'athenz.viewers.view',
        body: { subjects: [{ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'user.mallory' }] },
      },
      merge,
    );
    // No poll is involved (the interval is 1h): the watch on the binding triggers the repair.
    await h.cluster.waitForSubjects('edited', 'athenz.viewers.view', ['user.alice']);
    await op.waitForLog({
      message: 'access changed',
      action: 'remove',
      principal: 'user.mallory',
      reason: 'DriftRepaired',
    });
  });

  it('restores a managed label removed by hand', async () => {
    await bound('relabelled', ['user.alice']);
    await h.cluster.rbac.patchNamespacedRoleBinding(
      {
        namespace: 'relabelled',
        name: 'athenz.viewers.view',
        body: { metadata: { labels: { 'rbac.athenz.io/mapping': null } } },
      },
      merge,
    );
    await waitFor('the mapping label to come back', async () => {
      const rb = await h.cluster.getRoleBinding('relabelled', 'athenz.viewers.view');
      return rb?.metadata?.labels?.['rbac.athenz.io/mapping'] === 'relabelled';
    });
  });

  it('recreates a managed RoleBinding deleted by hand', async () => {
    await bound('deleted', ['user.alice', 'user.bob']);
    await h.cluster.rbac.deleteNamespacedRoleBinding({ namespace: 'deleted', name: 'athenz.viewers.view' });
    await h.cluster.waitForSubjects('deleted', 'athenz.viewers.view', ['user.alice', 'user.bob']);
  });

  it('changes a ClusterRole by creating the new binding before deleting the old one', async () => {
    await bound('rebound', ['user.alice']);
    const events: string[] = [];
    const watch = new k8s.Watch(h.plane.kubeConfig);
    const request = await watch.watch(
      '/apis/rbac.authorization.k8s.io/v1/namespaces/rebound/rolebindings',
      { allowWatchBookmarks: false },
      (phase, obj: k8s.V1RoleBinding) => events.push(`${phase} ${obj.metadata?.name}`),
      () => undefined,
    );
    try {
      await h.cluster.patchMappingSpec('rebound', {
        roles: [{ athenzRole: 'viewers', clusterRole: 'edit' }],
      });
      await h.cluster.waitForSubjects('rebound', 'athenz.viewers.edit', ['user.alice']);
      await waitFor(
        'the old binding to go',
        async () => (await h.cluster.getRoleBinding('rebound', 'athenz.viewers.view')) === undefined,
      );
      await waitFor('the watch to report the deletion', () => events.includes('DELETED athenz.viewers.view'));
      const added = events.indexOf('ADDED athenz.viewers.edit');
      expect(added).toBeGreaterThanOrEqual(0);
      expect(added).toBeLessThan(events.indexOf('DELETED athenz.viewers.view'));
    } finally {
      request.abort();
    }
  });
});
