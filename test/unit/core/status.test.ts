import { describe, expect, it } from '@jest/globals';
import { findCondition } from '../../../src/core/conditions.ts';
import {
  computeStatus,
  MAX_LISTED_CHANGES,
  MAX_LISTED_FAILURES,
  type MappingStatus,
  type NamespaceFailure,
  type PlannedChange,
  type RoleConflict,
  type StatusInput,
} from '../../../src/core/status.ts';

const t0 = new Date('2026-06-01T12:00:00.000Z');
const t1 = new Date('2026-06-01T12:00:30.500Z');

/** A fully synced active reconcile of three namespaces, unless told otherwise. */
function input(overrides: Partial<StatusInput> = {}): StatusInput {
  return {
    generation: 2,
    now: t0,
    mode: 'Active',
    selected: 3,
    failures: [],
    subjects: 5,
    athenz: undefined,
    conflicts: [],
    plannedChanges: [],
    ...overrides,
  };
}

const failure = (namespace: string, reason = 'ZmsUnavailable'): NamespaceFailure => ({
  namespace,
  reason,
  message: `${namespace} failed`,
});
const failures = (n: number) =>
  Array.from({ length: n }, (_, i) => failure(`ns-${String(i).padStart(2, '0')}`));
const planned = (n: number): PlannedChange[] =>
  Array.from({ length: n }, (_, i) => ({
    action: 'AddSubject',
    namespace: 'team-a',
    target: 'b',
    subject: `user.u${i}`,
  }));
const conflict = (namespace: string, athenzRole = 'k8s-ns-admins', owner = 'older'): RoleConflict => ({
  namespace,
  athenzRole,
  owner,
});

/** `{ Ready: 'True Synced', ... }`: every condition's status and reason. */
const summary = (status: MappingStatus) =>
  Object.fromEntries(status.conditions.map((c) => [c.type, `${c.status} ${c.reason}`]));

describe('computeStatus conditions', () => {
  const cases: Record<string, [Partial<StatusInput>, Record<string, string>]> = {
    'all namespaces synced is Ready': [
      {},
      {
        Ready: 'True Synced',
        AthenzReachable: 'True Reachable',
        Degraded: 'False AllNamespacesSynced',
        Conflict: 'False NoConflict',
        InvalidSpec: 'False SpecValid',
      },
    ],
    'some namespaces failed is not Ready and Degraded': [
      { selected: 5, failures: failures(2), athenz: { kind: 'Unavailable', message: 'connection refused' } },
      {
        Ready: 'False NamespacesFailed',
        AthenzReachable: 'False ZmsUnavailable',
        Degraded: 'True SomeNamespacesFailed',
        Conflict: 'False NoConflict',
        InvalidSpec: 'False SpecValid',
      },
    ],
    'every namespace failed is not Ready but not Degraded either': [
      { selected: 2, failures: failures(2), athenz: { kind: 'Unavailable', message: 'down' } },
      {
        Ready: 'False NamespacesFailed',
        AthenzReachable: 'False ZmsUnavailable',
        Degraded: 'False NamespacesFailed',
        Conflict: 'False NoConflict',
        InvalidSpec: 'False SpecValid',
      },
    ],
    'ZMS rate limiting is ZmsRateLimited': [
      { athenz: { kind: 'RateLimited', message: '429' } },
      expectAthenz('False ZmsRateLimited'),
    ],
    'an invalid ZMS answer is ZmsInvalidResponse': [
      { athenz: { kind: 'InvalidResponse', message: 'bad json' } },
      expectAthenz('False ZmsInvalidResponse'),
    ],
    'a TLS failure is ZmsTlsError': [
      { athenz: { kind: 'Tls', message: 'certificate expired' } },
      expectAthenz('False ZmsTlsError'),
    ],
    'an unreachable ZMS is ZmsUnavailable': [
      { athenz: { kind: 'Unavailable', message: 'ECONNREFUSED' } },
      expectAthenz('False ZmsUnavailable'),
    ],
    'an invalid spec is InvalidSpec and not Ready, and evaluates nothing else': [
      { invalidSpec: { reason: 'ClusterRoleNotAllowed', message: 'cluster-admin is not allowed' } },
      { Ready: 'False ClusterRoleNotAllowed', InvalidSpec: 'True ClusterRoleNotAllowed' },
    ],
    'a suspended mapping is Ready Unknown and evaluates nothing else': [
      { mode: 'Suspended' },
      { Ready: 'Unknown Suspended', InvalidSpec: 'False SpecValid' },
    ],
    'a dry run with nothing to change is Ready': [
      { mode: 'DryRun' },
      {
        Ready: 'True DryRun',
        AthenzReachable: 'True Reachable',
        Degraded: 'False AllNamespacesSynced',
        Conflict: 'False NoConflict',
        InvalidSpec: 'False SpecValid',
      },
    ],
    'a dry run with changes planned is not Ready': [
      { mode: 'DryRun', plannedChanges: planned(3) },
      {
        Ready: 'False DryRun',
        AthenzReachable: 'True Reachable',
        Degraded: 'False AllNamespacesSynced',
        Conflict: 'False NoConflict',
        InvalidSpec: 'False SpecValid',
      },
    ],
    'a dry run with failures reports the failures first': [
      { mode: 'DryRun', selected: 3, failures: failures(1), plannedChanges: planned(1) },
      {
        Ready: 'False NamespacesFailed',
        AthenzReachable: 'True Reachable',
        Degraded: 'True SomeNamespacesFailed',
        Conflict: 'False NoConflict',
        InvalidSpec: 'False SpecValid',
      },
    ],
    'no namespace selected is Ready with its own reason': [
      { selected: 0 },
      {
        Ready: 'True NoNamespacesSelected',
        AthenzReachable: 'True Reachable',
        Degraded: 'False AllNamespacesSynced',
        Conflict: 'False NoConflict',
        InvalidSpec: 'False SpecValid',
      },
    ],
    'roles claimed by an older mapping are a Conflict but still Ready': [
      { conflicts: [conflict('team-a')] },
      {
        Ready: 'True Synced',
        AthenzReachable: 'True Reachable',
        Degraded: 'False AllNamespacesSynced',
        Conflict: 'True RolesClaimedByOlderMapping',
        InvalidSpec: 'False SpecValid',
      },
    ],
  };
  it.each(Object.entries(cases))('%s', (_title, [overrides, expected]) => {
    expect(summary(computeStatus(input(overrides)))).toEqual(expected);
  });

  /** Without ZMS nothing is confirmed in sync: Ready is False for the same reason. */
  function expectAthenz(athenz: string) {
    return {
      Ready: athenz,
      AthenzReachable: athenz,
      Degraded: 'False AllNamespacesSynced',
      Conflict: 'False NoConflict',
      InvalidSpec: 'False SpecValid',
    };
  }

  it('lists the conditions in a fixed order', () => {
    expect(computeStatus(input()).conditions.map((c) => c.type)).toEqual([
      'Ready',
      'AthenzReachable',
      'Degraded',
      'Conflict',
      'InvalidSpec',
    ]);
  });

  it('stamps every condition with the generation and the clock', () => {
    const status = computeStatus(input({ generation: 9, now: t1 }));
    expect(status.observedGeneration).toBe(9);
    expect(status.conditions.map((c) => [c.observedGeneration, c.lastTransitionTime])).toEqual(
      Array(5).fill([9, '2026-06-01T12:00:30Z']),
    );
  });
});

describe('computeStatus messages', () => {
  it('passes the ZMS failure message on', () => {
    const status = computeStatus(input({ athenz: { kind: 'Tls', message: 'certificate has expired' } }));
    expect(findCondition(status.conditions, 'AthenzReachable')?.message).toBe('certificate has expired');
  });

  it('names up to five failed namespaces in Ready and counts the rest', () => {
    const status = computeStatus(input({ selected: 10, failures: failures(7) }));
    expect(findCondition(status.conditions, 'Ready')?.message).toBe(
      'Not synced: ns-00 (ZmsUnavailable), ns-01 (ZmsUnavailable), ns-02 (ZmsUnavailable), ' +
        'ns-03 (ZmsUnavailable), ns-04 (ZmsUnavailable) and 2 more',
    );
    expect(findCondition(status.conditions, 'Degraded')?.message).toBe('7 of 10 namespaces failed');
  });

  it('names a single failed namespace with its reason', () => {
    const status = computeStatus(input({ failures: [failure('team-b', 'DomainTooLong')] }));
    expect(findCondition(status.conditions, 'Ready')?.message).toBe('Not synced: team-b (DomainTooLong)');
  });

  it('counts the namespaces in sync in Ready', () => {
    const status = computeStatus(input({ selected: 3 }));
    expect(findCondition(status.conditions, 'Ready')?.message).toBe('3 namespaces in sync with Athenz');
  });

  it('counts the planned changes of a dry run in Ready', () => {
    const status = computeStatus(input({ mode: 'DryRun', plannedChanges: planned(60) }));
    expect(findCondition(status.conditions, 'Ready')?.message).toBe(
      'Dry run: 60 changes planned, none written (see status.plannedChanges)',
    );
  });

  it('names the conflicting namespaces, roles and owners', () => {
    const status = computeStatus(
      input({
        conflicts: [conflict('team-a', 'k8s-ns-admins', 'alpha'), conflict('team-b', 'viewers', 'beta')],
      }),
    );
    expect(findCondition(status.conditions, 'Conflict')?.message).toBe(
      'Left to an older mapping: team-a/k8s-ns-admins (managed by alpha), team-b/viewers (managed by beta)',
    );
  });

  it('names at most ten conflicts and counts the rest', () => {
    const conflicts = Array.from({ length: 12 }, (_, i) => conflict(`ns-${String(i).padStart(2, '0')}`));
    const message = findCondition(computeStatus(input({ conflicts })).conditions, 'Conflict')?.message ?? '';
    expect(message).toMatch(/ns-09\/k8s-ns-admins \(managed by older\) and 2 more$/);
    expect(message).not.toContain('ns-10');
  });

  it('passes the invalid spec reason and message to both InvalidSpec and Ready', () => {
    const status = computeStatus(
      input({ invalidSpec: { reason: 'SpecInvalid', message: 'spec.roles: too many' } }),
    );
    for (const type of ['InvalidSpec', 'Ready']) {
      expect(findCondition(status.conditions, type)).toMatchObject({
        reason: 'SpecInvalid',
        message: 'spec.roles: too many',
      });
    }
  });
});

describe('computeStatus counts and lists', () => {
  it('counts selected, synced and failed namespaces', () => {
    const status = computeStatus(input({ selected: 5, failures: failures(2), subjects: 11 }));
    expect(status.namespaces).toEqual({ selected: 5, synced: 3, failed: 2 });
    expect(status.namespacesSynced).toBe('3/5');
    expect(status.subjects).toBe(11);
    expect(status.mode).toBe('Active');
  });

  it('lists the failures, at most twenty', () => {
    const status = computeStatus(input({ selected: 30, failures: failures(25) }));
    expect(MAX_LISTED_FAILURES).toBe(20);
    expect(status.failures).toEqual(failures(20));
    expect(status.namespaces.failed).toBe(25);
  });

  it('lists no failures when nothing failed', () => {
    expect(computeStatus(input())).not.toHaveProperty('failures');
  });

  it('lists the planned changes of a dry run, at most fifty', () => {
    const status = computeStatus(input({ mode: 'DryRun', plannedChanges: planned(60) }));
    expect(MAX_LISTED_CHANGES).toBe(50);
    expect(status.plannedChanges).toEqual(planned(50));
  });

  it('lists no planned changes when a dry run has none', () => {
    expect(computeStatus(input({ mode: 'DryRun' }))).not.toHaveProperty('plannedChanges');
  });

  it('lists no planned changes outside a dry run', () => {
    expect(computeStatus(input({ plannedChanges: planned(2) }))).not.toHaveProperty('plannedChanges');
  });

  it('keeps the synced count of the previous status while the spec is invalid', () => {
    const previous = computeStatus(input({ selected: 4, failures: failures(1) }));
    const status = computeStatus(
      input({ selected: 4, previous, failures: [], invalidSpec: { reason: 'SpecInvalid', message: 'bad' } }),
    );
    expect(status.namespaces).toEqual({ selected: 4, synced: 3, failed: 0 });
    expect(status.namespacesSynced).toBe('3/4');
    expect(status).not.toHaveProperty('failures');
  });

  it('counts nothing synced for an invalid spec with no previous status', () => {
    const status = computeStatus(
      input({ selected: 0, invalidSpec: { reason: 'SpecInvalid', message: 'bad' } }),
    );
    expect(status.namespaces).toEqual({ selected: 0, synced: 0, failed: 0 });
  });

  it('keeps the conditions it does not evaluate while the spec is invalid', () => {
    const previous = computeStatus(
      input({ athenz: { kind: 'RateLimited', message: '429' }, conflicts: [conflict('x')] }),
    );
    const status = computeStatus(
      input({ previous, now: t1, invalidSpec: { reason: 'SpecInvalid', message: 'bad' } }),
    );
    for (const type of ['AthenzReachable', 'Degraded', 'Conflict']) {
      expect(findCondition(status.conditions, type)).toEqual(findCondition(previous.conditions, type));
    }
  });

  it('keeps the conditions it does not evaluate while suspended', () => {
    const previous = computeStatus(input({ athenz: { kind: 'Tls', message: 'x509' } }));
    const status = computeStatus(input({ previous, now: t1, mode: 'Suspended', generation: 3 }));
    expect(findCondition(status.conditions, 'AthenzReachable')).toEqual(
      findCondition(previous.conditions, 'AthenzReachable'),
    );
    expect(status.mode).toBe('Suspended');
  });
});

describe('computeStatus lastSyncTime', () => {
  const earlier = new Date('2026-05-31T00:00:00.000Z');
  const stamp = '2026-05-31T00:00:00Z';
  /** A previous status that was Ready, last synced at `earlier`. */
  const wasSynced = () => computeStatus(input({ now: earlier }));
  /** A previous status that was not Ready, last synced at `earlier`. */
  const wasFailing = () => ({
    ...computeStatus(input({ now: earlier, failures: failures(1) })),
    lastSyncTime: stamp,
  });
  const cases: Record<string, [() => Partial<StatusInput>, string | undefined]> = {
    'a first fully synced reconcile sets it': [() => ({}), '2026-06-01T12:00:00Z'],
    'becoming synced after a failure moves it': [() => ({ previous: wasFailing() }), '2026-06-01T12:00:00Z'],
    'becoming synced after a suspension moves it': [
      () => ({
        previous: { ...computeStatus(input({ now: earlier, mode: 'Suspended' })), lastSyncTime: stamp },
      }),
      '2026-06-01T12:00:00Z',
    ],
    'a synced reconcile that changed something moves it': [
      () => ({ previous: wasSynced(), changed: true }),
      '2026-06-01T12:00:00Z',
    ],
    'a synced reconcile that found nothing to do keeps it': [
      () => ({ previous: wasSynced(), changed: false }),
      stamp,
    ],
    'a synced reconcile that does not say whether it changed anything keeps it': [
      () => ({ previous: wasSynced() }),
      stamp,
    ],
    'a previous status without a sync time gets one': [
      () => {
        const { lastSyncTime: _, ...previous } = wasSynced();
        return { previous };
      },
      '2026-06-01T12:00:00Z',
    ],
    'an active reconcile selecting nothing counts as synced': [
      () => ({ previous: wasFailing(), selected: 0 }),
      '2026-06-01T12:00:00Z',
    ],
    'a partial failure keeps the previous one, even with changes': [
      () => ({ previous: wasSynced(), failures: failures(1), changed: true }),
      stamp,
    ],
    'a failure with no previous sync leaves it unset': [() => ({ failures: failures(1) }), undefined],
    'a dry run keeps the previous one': [() => ({ previous: wasFailing(), mode: 'DryRun' }), stamp],
    'a dry run with no previous sync leaves it unset': [() => ({ mode: 'DryRun' }), undefined],
    'a suspended mapping keeps the previous one': [
      () => ({ previous: wasFailing(), mode: 'Suspended' }),
      stamp,
    ],
    'an invalid spec keeps the previous one': [
      () => ({ previous: wasFailing(), invalidSpec: { reason: 'SpecInvalid', message: 'bad' } }),
      stamp,
    ],
  };
  it.each(Object.entries(cases))('%s', (_title, [overrides, lastSyncTime]) => {
    const status = computeStatus(input(overrides()));
    if (lastSyncTime === undefined) expect(status).not.toHaveProperty('lastSyncTime');
    else expect(status.lastSyncTime).toBe(lastSyncTime);
  });
});

describe('computeStatus is stable', () => {
  it('gives deep-equal output for identical input', () => {
    const make = () =>
      input({
        selected: 4,
        failures: failures(1),
        conflicts: [conflict('team-a')],
        athenz: { kind: 'Tls', message: 'x' },
      });
    expect(computeStatus(make())).toEqual(computeStatus(make()));
  });

  const modes: Record<string, Partial<StatusInput>> = {
    'a partial failure': {
      selected: 4,
      failures: failures(2),
      athenz: { kind: 'Unavailable', message: 'down' },
    },
    'a dry run': { mode: 'DryRun', plannedChanges: planned(3) },
    'a suspended mapping': { mode: 'Suspended' },
    'an invalid spec': { invalidSpec: { reason: 'SpecInvalid', message: 'bad' } },
    'a conflict': { failures: failures(1), conflicts: [conflict('team-a')] },
  };
  it.each(Object.entries(modes))(
    'does not change for %s reconciled again later with the same facts',
    (_t, overrides) => {
      const first = computeStatus(input(overrides));
      const again = computeStatus(input({ ...overrides, previous: first, now: t1 }));
      expect(again).toEqual(first);
    },
  );

  it('does not change for a fully synced mapping reconciled again later with nothing to do', () => {
    const first = computeStatus(input());
    expect(computeStatus(input({ previous: first, now: t1, changed: false }))).toEqual(first);
  });

  it('changes only lastSyncTime when a fully synced mapping is reconciled later and changed something', () => {
    const first = computeStatus(input());
    const again = computeStatus(input({ previous: first, now: t1, changed: true }));
    expect(again).toEqual({ ...first, lastSyncTime: '2026-06-01T12:00:30Z' });
  });

  it('moves the transition time only of the conditions that flipped', () => {
    const first = computeStatus(input({ selected: 4 }));
    const second = computeStatus(
      input({
        selected: 4,
        previous: first,
        now: t1,
        failures: failures(1),
        athenz: { kind: 'Unavailable', message: 'x' },
      }),
    );
    const times = Object.fromEntries(second.conditions.map((c) => [c.type, c.lastTransitionTime]));
    expect(times).toEqual({
      Ready: '2026-06-01T12:00:30Z',
      AthenzReachable: '2026-06-01T12:00:30Z',
      Degraded: '2026-06-01T12:00:30Z',
      Conflict: '2026-06-01T12:00:00Z',
      InvalidSpec: '2026-06-01T12:00:00Z',
    });
  });
});

describe('computeStatus with an invalid spec', () => {
  it('keeps the namespace counts of the last valid spec, selected and synced alike', () => {
    const previous = computeStatus(input({ selected: 3 }));
    const status = computeStatus(
      input({ previous, selected: 0, invalidSpec: { reason: 'SpecInvalid', message: 'bad' } }),
    );
    expect(status.namespaces).toEqual({ selected: 3, synced: 3, failed: 0 });
    expect(status.namespacesSynced).toBe('3/3');
  });
});
