import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  ATHENZ_ADMIN,
  type Harness,
  OPERATOR_PRINCIPAL,
  startHarness,
} from '../../support/operator-harness.ts';
import { waitFor } from '../../support/wait.ts';
import type { FaultRule } from '../../support/zms-server/faults.ts';

let h: Harness;

const PARENT = 'eks.static';
const NS = 'steady';

beforeAll(async () => {
  h = await startHarness();
  await h.ensureParentDomain(PARENT);
  await h.admin.ensureDomain(`${PARENT}.${NS}`, [ATHENZ_ADMIN, OPERATOR_PRINCIPAL]);
  await h.admin.putRole(`${PARENT}.${NS}`, 'viewers', ['user.alice', 'user.bob']);
  // A short full-resync period makes the operator re-read ZMS (not its cache) during the outages.
  await h.startOperator({ resyncPeriodMs: 2_000 }, { timeoutMs: 500, maxAttempts: 2 });
  await h.cluster.createMapping('static', {
    parentDomain: PARENT,
    namespaceSelector: { matchLabels: { 'test/mapping': 'static' } },
    roles: [{ athenzRole: 'viewers', clusterRole: 'view' }],
    syncInterval: '2s',
  });
  await h.cluster.createNamespace(NS, { 'test/mapping': 'static' });
  await h.cluster.waitForSubjects(NS, 'athenz.viewers.view', ['user.alice', 'user.bob']);
  await h.cluster.waitForCondition('static', 'Ready', 'True');
}, 60_000);
afterAll(async () => h?.stop());

const rolesRoute = 'GET /domain/{domain}/roles';
const faults: Array<[string, FaultRule, string]> = [
  ['a 503', { kind: 'error', status: 503 }, 'ZmsUnavailable'],
  ['a 500', { kind: 'error', status: 500 }, 'ZmsUnavailable'],
  ['a 429 with Retry-After', { kind: 'error', status: 429, retryAfter: 1 }, 'ZmsRateLimited'],
  ['a reset connection', { kind: 'reset' }, 'ZmsUnavailable'],
  ['a truncated body', { kind: 'truncate' }, 'ZmsUnavailable'],
  ['malformed JSON', { kind: 'malformed' }, 'ZmsInvalidResponse'],
  ['an answer slower than the timeout', { kind: 'latency', ms: 1_500 }, 'ZmsUnavailable'],
];

describe('when ZMS fails, every RoleBinding stays as it is', () => {
  // The change poll still answers, so the full resyncs drop the cache and re-read the roles:
  // every such read fails. (While the poll fails too, the cache is kept: see the stopped ZMS.)
  it.each(faults)(
    '%s keeps all subjects, flips the conditions, and recovery clears them',
    async (_title, rule, reason) => {
      const before = await h.cluster.getRoleBinding(NS, 'athenz.viewers.view');
      const id = h.zms.faults.add({ ...rule, match: { route: rolesRoute } });
      try {
        const failing = await h.cluster.waitForCondition(
          'static',
          'AthenzReachable',
          'False',
          reason,
          15_000,
        );
        expect(failing.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('False');
        // Several full resyncs hit the fault while it lasts.
        await waitFor(
          'three failed reads of the roles',
          () => h.zms.counters.count(rolesRoute) >= 3 || undefined,
          { timeoutMs: 15_000 },
        );
        const during = await h.cluster.getRoleBinding(NS, 'athenz.viewers.view');
        expect(during?.subjects?.map((s) => s.name)).toEqual(['user.alice', 'user.bob']);
        expect(during?.metadata?.resourceVersion).toBe(before?.metadata?.resourceVersion);
      } finally {
        h.zms.faults.remove(id);
        h.zms.counters.reset();
      }
      await h.cluster.waitForCondition('static', 'AthenzReachable', 'True', undefined, 15_000);
      await h.cluster.waitForCondition('static', 'Ready', 'True');
    },
  );

  it('a stopped ZMS keeps every subject; a member removed meanwhile goes once ZMS answers again', async () => {
    await h.zms.stop();
    try {
      const stopped = await h.cluster.waitForCondition(
        'static',
        'AthenzReachable',
        'False',
        'ZmsUnavailable',
        15_000,
      );
      // Nothing can be confirmed in sync without ZMS, though the bindings stay.
      expect(stopped.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({
        status: 'False',
        reason: 'ZmsUnavailable',
      });
      expect(await h.cluster.subjectsOf(NS, 'athenz.viewers.view')).toEqual(['user.alice', 'user.bob']);
    } finally {
      await h.zms.start();
    }
    await h.admin.removeMember(`${PARENT}.${NS}`, 'viewers', 'user.bob');
    await h.cluster.waitForSubjects(NS, 'athenz.viewers.view', ['user.alice'], 15_000);
    await h.cluster.waitForCondition('static', 'Ready', 'True', undefined, 15_000);
  });

  it('a namespace selected during an outage gets no binding and is reported, not guessed', async () => {
    h.zms.faults.add({ kind: 'error', status: 503, match: { route: rolesRoute } });
    try {
      await h.cluster.createNamespace('during-outage', { 'test/mapping': 'static' });
      const mapping = await waitFor('the new namespace to be reported as failed', async () => {
        const m = await h.cluster.getMapping('static');
        return m?.status?.failures?.some((f) => f.namespace === 'during-outage') ? m : undefined;
      });
      expect(mapping.status?.failures?.find((f) => f.namespace === 'during-outage')?.reason).toBe(
        'AthenzUnavailable',
      );
      expect(await h.cluster.subjectsOf('during-outage', 'athenz.viewers.view')).toBeUndefined();
      expect(await h.cluster.subjectsOf(NS, 'athenz.viewers.view')).toEqual(['user.alice']);
    } finally {
      h.zms.faults.clear();
    }
    await h.cluster.waitForSubjects('during-outage', 'athenz.viewers.view', [], 15_000);
  });
});
