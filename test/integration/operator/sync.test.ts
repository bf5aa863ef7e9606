import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { roleBindingName } from '../../../src/core/names.ts';
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
const PARENT = 'eks.users';

beforeAll(async () => {
  h = await startHarness();
  await h.ensureParentDomain(PARENT);
  op = await h.startOperator();
}, 60_000);
afterAll(async () => h?.stop());

describe('syncing Athenz roles into namespaces', () => {
  it('creates the subdomain and roles, then binds members as they come and go', async () => {
    await h.cluster.createMapping('sync-basic', {
      parentDomain: PARENT,
      namespaceSelector: { matchLabels: { 'test/mapping': 'sync-basic' } },
      roles: [
        { athenzRole: 'k8s_ns_admins', clusterRole: 'admin' },
        { athenzRole: 'viewers', clusterRole: 'view' },
      ],
      domain: { adminUsers: [ATHENZ_ADMIN] },
      syncInterval: '2s',
    });
    await h.cluster.createNamespace('team-a', { 'test/mapping': 'sync-basic' });

    await h.cluster.waitForSubjects('team-a', 'athenz.viewers.view', []);
    // Each role is read right before it is created, even in a domain just created: a PUT of a
    // role someone made meanwhile would wipe its members.
    expect(h.zms.counters.count('GET /domain/{domain}/role/{role}')).toBe(2);
    expect(h.zms.counters.count('PUT /domain/{domain}/role/{role}')).toBe(2);
    const domain = await h.admin.getDomain(`${PARENT}.team-a`);
    // The creator is this cluster (the kube-system namespace's uid) and this mapping.
    const clusterId = (await h.cluster.core.readNamespace({ name: 'kube-system' })).metadata?.uid;
    expect(domain?.tags?.['athenz-rbac-operator.created-by']?.list).toEqual([`${clusterId}:sync-basic`]);
    expect((await h.admin.getRole(`${PARENT}.team-a`, 'viewers')).roleMembers ?? []).toEqual([]);

    await h.admin.addMember(`${PARENT}.team-a`, 'viewers', 'user.alice');
    await h.admin.addMember(`${PARENT}.team-a`, 'k8s_ns_admins', 'user.bob');
    await h.cluster.waitForSubjects('team-a', 'athenz.viewers.view', ['user.alice']);
    // The two additions may reach the operator in one poll or in two: wait for each binding.
    await h.cluster.waitForSubjects('team-a', roleBindingName('k8s_ns_admins', 'admin'), ['user.bob']);
    const adminBinding = (await h.cluster.rbac.listNamespacedRoleBinding({ namespace: 'team-a' })).items.find(
      (rb) => rb.metadata?.annotations?.['rbac.athenz.io/athenz-role'] === 'k8s_ns_admins',
    );
    expect(adminBinding?.roleRef.name).toBe('admin');
    expect(adminBinding?.subjects?.map((s) => s.name)).toEqual(['user.bob']);

    // The removal is a change of its own (the add was applied first), so it is measured once more,
    // however the earlier changes fell into polls.
    const measured = async () =>
      (await op.metrics.propagationDelay.get()).values.find((v) => v.metricName?.endsWith('_count'))?.value ??
      0;
    const measuredBefore = await measured();
    await h.admin.removeMember(`${PARENT}.team-a`, 'viewers', 'user.alice');
    await h.cluster.waitForSubjects('team-a', 'athenz.viewers.view', []);
    await waitFor('the removal to be measured', async () => (await measured()) > measuredBefore);

    const mapping = await h.cluster.waitForCondition('sync-basic', 'Ready', 'True', 'Synced');
    expect(mapping.status?.namespacesSynced).toBe('1/1');
    expect(mapping.status?.conditions?.find((c) => c.type === 'AthenzReachable')?.status).toBe('True');

    await op.waitForLog({ message: 'access changed', action: 'remove', principal: 'user.alice' });
    const audit = op.logs.filter((e) => e.message === 'access changed' && e.namespace === 'team-a');
    expect(audit.every((e) => e.mapping === 'sync-basic' && typeof e.reconcileID === 'string')).toBe(true);
    expect(audit).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          action: 'add',
          principal: 'user.alice',
          reason: 'MemberAdded',
          athenzRole: 'viewers',
        }),
        expect.objectContaining({
          action: 'remove',
          principal: 'user.alice',
          reason: 'MemberRemoved',
          athenzRole: 'viewers',
        }),
      ]),
    );
  });

  it('never overwrites an existing role: its members are kept and bound', async () => {
    await h.admin.ensureDomain(`${PARENT}.team-b`, [ATHENZ_ADMIN]);
    await h.admin.putRole(`${PARENT}.team-b`, 'viewers', ['user.carol', 'user.dave']);
    await h.cluster.createMapping('sync-existing', {
      parentDomain: PARENT,
      namespaceSelector: { matchLabels: { 'test/mapping': 'sync-existing' } },
      roles: [{ athenzRole: 'viewers', clusterRole: 'view' }],
      syncInterval: '2s',
    });
    await h.cluster.createNamespace('team-b', { 'test/mapping': 'sync-existing' });
    await h.cluster.waitForSubjects('team-b', 'athenz.viewers.view', ['user.carol', 'user.dave']);
    const role = await h.admin.getRole(`${PARENT}.team-b`, 'viewers');
    expect(role.roleMembers?.map((m) => m.memberName)).toEqual(['user.carol', 'user.dave']);
    const domain = await h.admin.getDomain(`${PARENT}.team-b`);
    expect(domain?.tags?.['athenz-rbac-operator.created-by']).toBeUndefined();
  });

  it('takes access away within an interval when the Athenz domain is deleted', async () => {
    await h.admin.ensureDomain(`${PARENT}.team-c`, [ATHENZ_ADMIN, OPERATOR_PRINCIPAL]);
    await h.admin.putRole(`${PARENT}.team-c`, 'viewers', ['user.erin']);
    await h.cluster.createMapping('sync-deleted', {
      parentDomain: PARENT,
      namespaceSelector: { matchLabels: { 'test/mapping': 'sync-deleted' } },
      roles: [{ athenzRole: 'viewers', clusterRole: 'view' }],
      domain: { create: false },
      syncInterval: '2s',
    });
    await h.cluster.createNamespace('team-c', { 'test/mapping': 'sync-deleted' });
    await h.cluster.waitForSubjects('team-c', 'athenz.viewers.view', ['user.erin']);
    // A deleted domain never appears among the modified ones: the subdomain listing finds it.
    await h.admin.call('DELETE', `/subdomain/${PARENT}/team-c`);
    await h.cluster.waitForSubjects('team-c', 'athenz.viewers.view', [], 20_000);
    await op.waitForLog({ message: 'Athenz domain deleted', athenzDomain: `${PARENT}.team-c` });
    const m = await h.cluster.getMapping('sync-deleted');
    expect(m?.status?.failures?.find((f) => f.namespace === 'team-c')?.reason).toBe('DomainNotFound');
  });
});
