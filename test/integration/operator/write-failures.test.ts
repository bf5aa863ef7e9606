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
