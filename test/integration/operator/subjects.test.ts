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
const PARENT = 'eks.subjects';

beforeAll(async () => {
  h = await startHarness();
  await h.ensureParentDomain(PARENT);
  await h.admin.ensureDomain('sports', [ATHENZ_ADMIN]);
  op = await h.startOperator();
}, 60_000);
afterAll(async () => h?.stop());

/** A mapping of its own selecting one fresh namespace, whose Athenz domain the test pre-creates. */
async function scenario(name: string, spec: Record<string, unknown> = {}) {
  const domain = `${PARENT}.${name}`;
  await h.admin.ensureDomain(domain, [ATHENZ_ADMIN, OPERATOR_PRINCIPAL]);
  await h.cluster.createMapping(name, {
    parentDomain: PARENT,
    namespaceSelector: { matchLabels: { 'test/mapping': name } },
    roles: [{ athenzRole: 'viewers', clusterRole: 'view' }],
    syncInterval: '2s',
    ...spec,
  });
  return {
    domain,
    namespace: name,
    createNamespace: () => h.cluster.createNamespace(name, { 'test/mapping': name }),
  };
}

async function warnings(mapping: string): Promise<string[]> {
  const events = h.plane.kubeConfig.makeApiClient(k8s.EventsV1Api);
  const list = await events.listNamespacedEvent({ namespace: 'default' });
  return list.items
    .filter((e) => e.regarding?.name === mapping && e.type === 'Warning')
    .map((e) => e.note ?? '');
}

describe('which Athenz members become subjects', () => {
  it('binds users and services, skips wildcards with a Warning Event, and prefixes names', async () => {
    const s = await scenario('mixed', { subjects: { userPrefix: 'athenz:' } });
    await h.admin.putRole(s.domain, 'viewers', ['user.alice', 'sports.api', '*', 'user.*', 'sports.ap*']);
    await s.createNamespace();
    await h.cluster.waitForSubjects(s.namespace, 'athenz.viewers.view', [
      'athenz:sports.api',
      'athenz:user.alice',
    ]);
    // One Warning for the mapping names all three, however many there are (not one Event each).
    const notes = await waitFor('a Warning Event for the three wildcards', async () => {
      const w = (await warnings('mixed')).filter((n) => n.includes('Wildcard'));
      return w.length > 0 ? w : undefined;
    });
    expect(notes).toHaveLength(1);
    expect(notes[0]).toMatch(/^3 Athenz members have no RBAC equivalent/);
    expect(notes[0]).toMatch(/member \* of role viewers \(Wildcard\)/);
    expect(notes[0]).toMatch(/member user\.\* of role viewers \(Wildcard\)/);
    expect(notes[0]).toMatch(/member sports\.ap\* of role viewers \(Wildcard\)/);
  });

  it('skips services when told to', async () => {
    const s = await scenario('no-services', { subjects: { services: 'Skip' } });
    await h.admin.putRole(s.domain, 'viewers', ['user.alice', 'sports.api']);
    await s.createNamespace();
    await h.cluster.waitForSubjects(s.namespace, 'athenz.viewers.view', ['user.alice']);
  });

  it('expands Athenz groups and follows changes to the group in its own domain', async () => {
    const s = await scenario('groups');
    await h.admin.putGroup('sports', 'devs', ['user.bob', 'user.carol']);
    await h.admin.putRole(s.domain, 'viewers', ['sports:group.devs', 'user.alice']);
    await s.createNamespace();
    await h.cluster.waitForSubjects(s.namespace, 'athenz.viewers.view', [
      'user.alice',
      'user.bob',
      'user.carol',
    ]);

    await h.admin.putGroup('sports', 'devs', ['user.bob']);
    await h.cluster.waitForSubjects(s.namespace, 'athenz.viewers.view', ['user.alice', 'user.bob']);
  });

  it('skips groups when told to', async () => {
    const s = await scenario('no-groups', { subjects: { groups: 'Skip' } });
    await h.admin.putGroup('sports', 'ops', ['user.olga']);
    await h.admin.putRole(s.domain, 'viewers', ['sports:group.ops', 'user.alice']);
    await s.createNamespace();
    await h.cluster.waitForSubjects(s.namespace, 'athenz.viewers.view', ['user.alice']);
  });

  it("resolves a delegated role through its trust domain's assume_role policy", async () => {
    const s = await scenario('delegated');
    await h.admin.ensureDomain('trusted', [ATHENZ_ADMIN]);
    await h.admin.putRole('trusted', 'deployers', ['user.deployer']);
    await h.admin.call('PUT', '/domain/trusted/policy/delegation', {
      name: 'delegation',
      assertions: [{ role: 'trusted:role.deployers', action: 'assume_role', resource: `${s.domain}:role.*` }],
    });
    await h.admin.putRole(s.domain, 'viewers', [], { trust: 'trusted' });
    await s.createNamespace();
    await h.cluster.waitForSubjects(s.namespace, 'athenz.viewers.view', ['user.deployer']);
  });

  it('removes a member at its expiry without a poll, whatever the sync interval', async () => {
    const s = await scenario('expiry', { syncInterval: '1h' });
    // Far enough ahead that the member is bound first even on a saturated machine.
    const expiresAt = new Date(Date.now() + 12_000);
    await h.admin.putRole(s.domain, 'viewers', [
      'user.perm',
      { memberName: 'user.temp', expiration: expiresAt.toISOString() },
    ]);
    await s.createNamespace();
    await h.cluster.waitForSubjects(s.namespace, 'athenz.viewers.view', ['user.perm', 'user.temp']);
    await h.cluster.waitForSubjects(s.namespace, 'athenz.viewers.view', ['user.perm'], 30_000);
    const removedAt = Date.now();
    // The delay itself is a benchmark figure (make bench); here: never early, and as an expiry.
    process.stdout.write(`expiry: removed ${removedAt - expiresAt.getTime()} ms after the expiration\n`);
    expect(removedAt).toBeGreaterThanOrEqual(expiresAt.getTime());
    await op.waitForLog({
      message: 'access changed',
      action: 'remove',
      principal: 'user.temp',
      reason: 'MemberExpired',
    });
  });
});
