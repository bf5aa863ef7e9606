import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import {
  ATHENZ_ADMIN,
  DEFAULT_OPERATOR_CONFIG,
  type Harness,
  OPERATOR_PRINCIPAL,
  startHarness,
} from '../../support/operator-harness.ts';
import { waitFor } from '../../support/wait.ts';

/**
 * Writes the real API server refuses. The operator runs as a ServiceAccount that may bind `view`
 * but not `secret-reader` (a ClusterRole with real rules, so RBAC's escalation check applies):
 * moving a role from one to the other must keep the old binding, report the refusal in status,
 * and complete once the installer grants `bind`.
 */
let h: Harness;
const PARENT = 'eks.writes';
const NS = 'refused';
const OPERATOR_NS = DEFAULT_OPERATOR_CONFIG.operatorNamespace;

async function operatorRbac(rbac: k8s.RbacAuthorizationV1Api, bindable: string[]) {
  const body: k8s.V1ClusterRole = {
    metadata: { name: 'limited-operator' },
    rules: [
      { apiGroups: [''], resources: ['namespaces'], verbs: ['get', 'list', 'watch'] },
      {
        apiGroups: ['rbac.athenz.io'],
        resources: ['athenzrolemappings'],
        verbs: ['get', 'list', 'watch', 'patch', 'update'],
      },
      { apiGroups: ['rbac.athenz.io'], resources: ['athenzrolemappings/status'], verbs: ['patch', 'update'] },
      {
        apiGroups: ['rbac.authorization.k8s.io'],
        resources: ['rolebindings'],
        verbs: ['get', 'list', 'watch', 'create', 'patch', 'update', 'delete'],
      },
      {
        apiGroups: ['rbac.authorization.k8s.io'],
        resources: ['clusterroles'],
        verbs: ['bind'],
        resourceNames: bindable,
      },
      { apiGroups: ['events.k8s.io'], resources: ['events'], verbs: ['create'] },
    ],
  };
  try {
    await rbac.replaceClusterRole({ name: 'limited-operator', body });
  } catch (err) {
    if ((err as { code?: number }).code !== 404) throw err;
    await rbac.createClusterRole({ body });
  }
}

beforeAll(async () => {
  h = await startHarness();
  await h.ensureParentDomain(PARENT);
  await h.admin.ensureDomain(`${PARENT}.${NS}`, [ATHENZ_ADMIN, OPERATOR_PRINCIPAL]);
  await h.admin.putRole(`${PARENT}.${NS}`, 'viewers', ['user.alice']);
  const rbac = h.plane.kubeConfig.makeApiClient(k8s.RbacAuthorizationV1Api);
  await rbac.createClusterRole({
    body: {
      metadata: { name: 'secret-reader' },
      rules: [{ apiGroups: [''], resources: ['secrets'], verbs: ['get', 'list'] }],
    },
  });
  await operatorRbac(rbac, ['view']);
  await rbac.createClusterRoleBinding({
    body: {
      metadata: { name: 'limited-operator' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'limited-operator' },
      subjects: [{ kind: 'ServiceAccount', name: 'operator', namespace: OPERATOR_NS }],
    },
  });
  const token = await h.plane.mintToken(OPERATOR_NS, 'operator');
  await h.startOperator(
    { allowedClusterRoles: ['view', 'secret-reader'] },
    {},
    h.plane.kubeConfigForToken(token).kubeConfig,
  );
}, 60_000);
afterAll(async () => h?.stop());

describe('a RoleBinding the API server refuses', () => {
  it('keeps the binding it would replace, says why in status, and completes once allowed', async () => {
    await h.cluster.createMapping('refused', {
      parentDomain: PARENT,
      namespaceSelector: { matchLabels: { 'test/mapping': 'refused' } },
      roles: [{ athenzRole: 'viewers', clusterRole: 'view' }],
      syncInterval: '2s',
    });
    await h.cluster.createNamespace(NS, { 'test/mapping': 'refused' });
    await h.cluster.waitForSubjects(NS, 'athenz.viewers.view', ['user.alice']);

    await h.cluster.patchMappingSpec('refused', {
      roles: [{ athenzRole: 'viewers', clusterRole: 'secret-reader' }],
    });
    const failing = await waitFor('the refusal to be reported', async () => {
      const m = await h.cluster.getMapping('refused');
      const failure = m?.status?.failures?.find((f) => f.namespace === NS);
      return failure && m?.status?.observedGeneration === 2 ? m : undefined;
    });
    const failure = failing.status?.failures?.find((f) => f.namespace === NS);
    expect(failure?.reason).toBe('RoleBindingWriteFailed');
    expect(failure?.message).toContain(
      `apply RoleBinding ${NS}/athenz.viewers.secret-reader failed: 403 Forbidden`,
    );
    expect(failing.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False' });
    // Nobody lost access: the old binding is exactly as it was.
    expect(await h.cluster.subjectsOf(NS, 'athenz.viewers.view')).toEqual(['user.alice']);
    expect(await h.cluster.getRoleBinding(NS, 'athenz.viewers.secret-reader')).toBeUndefined();

    await operatorRbac(h.plane.kubeConfig.makeApiClient(k8s.RbacAuthorizationV1Api), [
      'view',
      'secret-reader',
    ]);
    await h.cluster.waitForSubjects(NS, 'athenz.viewers.secret-reader', ['user.alice'], 90_000);
    await waitFor(
      'the old binding to go once the new one exists',
      async () => (await h.cluster.getRoleBinding(NS, 'athenz.viewers.view')) === undefined,
    );
    await h.cluster.waitForCondition('refused', 'Ready', 'True', 'Synced', 30_000);
  });
});

describe('objects the operator does not own', () => {
  it('never adopts a same-named binding, and never touches an excluded namespace whatever its labels', async () => {
    const mapping = (await h.cluster.createMapping('owned', {
      parentDomain: PARENT,
      namespaceSelector: { matchLabels: { 'test/mapping': 'owned' } },
      roles: [{ athenzRole: 'viewers', clusterRole: 'view' }],
      syncInterval: '2s',
    })) as { metadata: { uid: string } };
    await h.admin.ensureDomain(`${PARENT}.taken`, [ATHENZ_ADMIN, OPERATOR_PRINCIPAL]);
    await h.admin.putRole(`${PARENT}.taken`, 'viewers', ['user.alice']);
    await h.cluster.createNamespace('taken');
    const handMade = (namespace: string, labelled: boolean): k8s.V1RoleBinding => ({
      metadata: {
        name: 'athenz.viewers.view',
        namespace,
        ...(labelled
          ? {
              labels: {
                'app.kubernetes.io/managed-by': 'athenz-rbac-operator',
                'rbac.athenz.io/mapping': 'owned',
              },
              annotations: { 'rbac.athenz.io/athenz-role': 'viewers' },
              ownerReferences: [
                {
                  apiVersion: 'rbac.athenz.io/v1alpha1',
                  kind: 'AthenzRoleMapping',
                  name: 'owned',
                  uid: mapping.metadata.uid,
                },
              ],
            }
          : {}),
      },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' },
      subjects: [{ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'user.mallory' }],
    });
    await h.cluster.rbac.createNamespacedRoleBinding({ namespace: 'taken', body: handMade('taken', false) });
    // Looks like the operator's own, owner reference included, but kube-system is excluded.
    await h.cluster.rbac.createNamespacedRoleBinding({
      namespace: 'kube-system',
      body: handMade('kube-system', true),
    });
    await h.cluster.labelNamespace('taken', { 'test/mapping': 'owned' });

    const reported = await waitFor('the taken name to be reported', async () => {
      const m = await h.cluster.getMapping('owned');
      return m?.status?.failures?.find((f) => f.namespace === 'taken' && f.reason === 'BindingNameTaken');
    });
    expect(reported.message).toContain('exists and was not created by this mapping');
    const kept = await h.cluster.getRoleBinding('taken', 'athenz.viewers.view');
    expect(kept?.subjects?.map((s) => s.name)).toEqual(['user.mallory']);
    expect(kept?.metadata?.labels).toBeUndefined();
    expect(kept?.metadata?.ownerReferences).toBeUndefined();
    const system = await h.cluster.getRoleBinding('kube-system', 'athenz.viewers.view');
    expect(system?.subjects?.map((s) => s.name)).toEqual(['user.mallory']);
  });
});
