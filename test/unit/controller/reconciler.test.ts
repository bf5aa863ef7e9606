import { describe, expect, it } from '@jest/globals';
import { AthenzCache } from '../../../src/controller/athenz-cache.ts';
import { MappingReconciler, ReconcileError } from '../../../src/controller/reconciler.ts';
import { CREATED_BY_TAG } from '../../../src/core/labels.ts';
import { createMetrics } from '../../../src/runtime/metrics.ts';
import { apiError, FakeCluster } from '../../support/fakes/cluster.ts';
import { FakeZms, rateLimited } from '../../support/fakes/zms.ts';
import { captureLogger } from '../../support/log-capture.ts';
import { waitFor } from '../../support/wait.ts';

/**
 * The reconciler on fakes (an in-memory cluster and ZMS): the fail-static rules where they live.
 * Each case sets up a state, reconciles, and asserts what was written and what status says.
 */
const PARENT = 'eks.users';
const VIEW_KEY = 'team-a/athenz.viewers.view';
const EDIT_KEY = 'team-a/athenz.viewers.edit';

function spec(overrides: Record<string, unknown> = {}) {
  return {
    parentDomain: PARENT,
    namespaceSelector: { matchLabels: { team: 'yes' } },
    roles: [{ athenzRole: 'viewers', clusterRole: 'view' }],
    ...overrides,
  };
}

function setup() {
  const zms = new FakeZms();
  const cluster = new FakeCluster();
  const clock = { now: new Date('2026-06-01T00:00:00Z') };
  const { log, entries } = captureLogger();
  const metrics = createMetrics({ defaultMetrics: false });
  const cache = new AthenzCache(zms);
  let pollerDown = false;
  const reconciler = new MappingReconciler({
    zms,
    athenz: cache,
    kube: cluster.writer(),
    cluster: cluster.view(),
    config: {
      allowedClusterRoles: new Set(['view', 'edit', 'admin']),
      excludedNamespaces: new Set(['kube-system']),
      operatorPrincipal: 'athenz.k8s.operator',
      namespaceConcurrency: 4,
    },
    log,
    metrics,
    clock: () => clock.now,
    pollerFailure: () => (pollerDown ? { kind: 'Unavailable', message: 'poll failed' } : undefined),
  });
  zms.addDomain(PARENT);
  return {
    zms,
    cluster,
    clock,
    entries,
    metrics,
    cache,
    reconciler,
    setPollerDown: (down: boolean) => {
      pollerDown = down;
    },
    /** A namespace selected by `spec()` with its Athenz domain and viewers role. */
    team(ns: string, members: Parameters<FakeZms['setRole']>[2]) {
      cluster.addNamespace(ns, { team: 'yes' });
      zms.addDomain(`${PARENT}.${ns}`).setRole(`${PARENT}.${ns}`, 'viewers', members);
    },
  };
}

const subjectsOf = (cluster: FakeCluster, key: string) => cluster.binding(key)?.subjects.map((s) => s.name);

describe('MappingReconciler: a ClusterRole change never leaves a gap', () => {
  it('keeps the old binding when the new one fails to apply, and says so in status', async () => {
    const t = setup();
    t.team('team-a', ['user.jane']);
    t.cluster.addMapping('m1', spec());
    await t.reconciler.reconcile('m1');
    expect(subjectsOf(t.cluster, VIEW_KEY)).toEqual(['user.jane']);

    // The mapping now binds viewers to edit, and the API server refuses the new binding.
    t.cluster.updateSpec('m1', spec({ roles: [{ athenzRole: 'viewers', clusterRole: 'edit' }] }));
    t.cluster.failWrites('apply', EDIT_KEY);

    await expect(t.reconciler.reconcile('m1')).rejects.toThrow(ReconcileError);
    expect(subjectsOf(t.cluster, VIEW_KEY)).toEqual(['user.jane']);
    expect(t.cluster.binding(EDIT_KEY)).toBeUndefined();
    expect(t.cluster.writes.filter((w) => w.verb === 'delete')).toEqual([]);
    const ready = t.cluster.condition('m1', 'Ready');
    expect(ready).toMatchObject({ status: 'False', reason: 'NamespacesFailed' });
    expect(t.cluster.statusOf('m1')?.failures).toEqual([
      {
        namespace: 'team-a',
        reason: 'RoleBindingWriteFailed',
        message: expect.stringContaining(`apply RoleBinding ${EDIT_KEY} failed: 500 InternalError`),
      },
    ]);

    // Once the API server accepts it, the new binding exists before the old one goes.
    t.cluster.heal();
    await t.reconciler.reconcile('m1');
    expect(subjectsOf(t.cluster, EDIT_KEY)).toEqual(['user.jane']);
    expect(t.cluster.binding(VIEW_KEY)).toBeUndefined();
    const order = t.cluster.writes.filter((w) => w.key === EDIT_KEY || w.key === VIEW_KEY).map((w) => w.verb);
    expect(order.slice(-2)).toEqual(['apply', 'delete']);
    expect(t.cluster.condition('m1', 'Ready')).toMatchObject({ status: 'True', reason: 'Synced' });
  });

  it('reports a binding the API server keeps refusing as a failure, not as Synced', async () => {
    const t = setup();
    t.team('team-a', ['user.jane']);
    t.cluster.addMapping('m1', spec());
    t.cluster.failWrites('apply', VIEW_KEY, apiError(422, 'Invalid', 'roleRef: field is immutable'));
    await expect(t.reconciler.reconcile('m1')).rejects.toThrow(/Kubernetes writes failed/);
    expect(t.cluster.condition('m1', 'Ready')).toMatchObject({ status: 'False' });
    expect(t.cluster.statusOf('m1')?.namespacesSynced).toBe('0/1');
    expect(t.cluster.statusOf('m1')?.failures?.[0]?.message).toContain('roleRef: field is immutable');
    expect(await t.metrics.writeFailures.get()).toMatchObject({
      values: [{ labels: { verb: 'apply' }, value: 1 }],
    });
  });
});

describe('MappingReconciler: deletes carry preconditions', () => {
  it('deletes with the uid and resourceVersion the cache saw, and a 409 changes nothing', async () => {
    const t = setup();
    t.team('team-a', ['user.jane']);
    t.cluster.addMapping('m1', spec());
    await t.reconciler.reconcile('m1');
    const cached = t.cluster.binding(VIEW_KEY)!;

    t.cluster.namespaces.get('team-a')!.labels = {}; // unselected: the binding must go
    await t.reconciler.reconcile('m1');
    const deletes = t.cluster.writes.filter((w) => w.verb === 'delete');
    expect(deletes).toEqual([
      { verb: 'delete', key: VIEW_KEY, body: { uid: cached.uid, resourceVersion: cached.resourceVersion } },
    ]);
  });

  it('leaves a binding that changed since the cache saw it (409) and retries', async () => {
    const t = setup();
    t.team('team-a', ['user.jane']);
    t.cluster.addMapping('m1', spec());
    await t.reconciler.reconcile('m1');
    t.cluster.namespaces.get('team-a')!.labels = {};
    t.cluster.failWrites(
      'delete',
      VIEW_KEY,
      apiError(409, 'Conflict', 'Precondition failed: UID in precondition'),
    );
    await expect(t.reconciler.reconcile('m1')).rejects.toThrow(ReconcileError);
    expect(t.cluster.binding(VIEW_KEY)).toBeDefined();
    // A lost race is not a failure of the namespace: status does not blame it.
    expect(t.cluster.statusOf('m1')?.failures).toBeUndefined();
  });
});

describe('MappingReconciler: a mapping that loses a conflict', () => {
  it('keeps its binding until the older mapping has bound the role, then removes it', async () => {
    const t = setup();
    t.team('team-a', ['user.jane']);
    // The younger mapping bound viewers → edit before the older one existed.
    t.cluster.addMapping('young', spec({ roles: [{ athenzRole: 'viewers', clusterRole: 'edit' }] }), {
      created: new Date('2026-03-01T00:00:00Z'),
    });
    await t.reconciler.reconcile('young');
    expect(subjectsOf(t.cluster, EDIT_KEY)).toEqual(['user.jane']);

    t.cluster.addMapping('old', spec(), { created: new Date('2026-01-01T00:00:00Z') });
    await t.reconciler.reconcile('young');
    // The winner has no binding yet: removing the loser's now would open a gap.
    expect(t.cluster.binding(EDIT_KEY)).toBeDefined();
    expect(t.reconciler.mappingsAwaiting('team-a')).toEqual(['young']);
    expect(t.cluster.condition('young', 'Conflict')).toMatchObject({ status: 'True' });

    await t.reconciler.reconcile('old');
    expect(subjectsOf(t.cluster, VIEW_KEY)).toEqual(['user.jane']);
    await t.reconciler.reconcile('young');
    expect(t.cluster.binding(EDIT_KEY)).toBeUndefined();
    expect(t.reconciler.mappingsAwaiting('team-a')).toEqual([]);
    expect(t.entries).toContainEqual(
      expect.objectContaining({
        message: 'access changed',
        principal: 'user.jane',
        roleBinding: 'athenz.viewers.edit',
        reason: 'RoleClaimedByOlderMapping',
      }),
    );
  });
});

describe('MappingReconciler: expiry during a ZMS outage', () => {
  it('removes a member whose expiry passed by the last good answer, and keeps everyone else', async () => {
    const t = setup();
    const soon = new Date(t.clock.now.getTime() + 60_000);
    t.team('team-a', ['user.jane', { memberName: 'user.temp', expiration: soon }]);
    t.cluster.addMapping('m1', spec());
    await t.reconciler.reconcile('m1');
    expect(subjectsOf(t.cluster, VIEW_KEY)).toEqual(['user.jane', 'user.temp']);

    // ZMS goes away; the periodic resync drops the cache; the member's expiry passes.
    t.zms.fail('*');
    t.setPollerDown(true);
    t.cache.invalidateAll();
    t.clock.now = new Date(soon.getTime() + 1_000);

    await expect(t.reconciler.reconcile('m1')).rejects.toThrow(/ZMS failed/);
    expect(subjectsOf(t.cluster, VIEW_KEY)).toEqual(['user.jane']);
    expect(t.entries).toContainEqual(
      expect.objectContaining({ message: 'access changed', principal: 'user.temp', reason: 'MemberExpired' }),
    );
    expect(t.cluster.condition('m1', 'AthenzReachable')).toMatchObject({ status: 'False' });
  });

  it('never adds anyone from an old answer', async () => {
    const t = setup();
    t.team('team-a', ['user.jane', 'user.bob']);
    t.cluster.addMapping('m1', spec());
    await t.reconciler.reconcile('m1');
    // Someone removes bob by hand, then ZMS fails.
    t.cluster.bindings.get(VIEW_KEY)!.subjects = [
      { kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'user.jane' },
    ];
    t.zms.fail('*');
    t.cache.invalidateAll();
    await expect(t.reconciler.reconcile('m1')).rejects.toThrow(/ZMS failed/);
    expect(subjectsOf(t.cluster, VIEW_KEY)).toEqual(['user.jane']);
  });

  it('asks the queue to wait at least what ZMS asked for', async () => {
    const t = setup();
    t.team('team-a', ['user.jane']);
    t.cluster.addMapping('m1', spec());
    t.zms.fail('getRoles', rateLimited(30_000));
    const error = await t.reconciler.reconcile('m1').catch((err: unknown) => err);
    expect(error).toBeInstanceOf(ReconcileError);
    expect((error as ReconcileError).retryAfterMs).toBe(30_000);
  });
});

describe('MappingReconciler: no namespace work outlives the reconcile', () => {
  it('settles every namespace before reporting an unexpected error', async () => {
    const t = setup();
    for (const ns of ['team-a', 'team-b', 'team-c']) t.team(ns, ['user.jane']);
    t.cluster.addMapping('m1', spec());
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let pending = 0;
    t.zms.beforeAnswer = async (call, args) => {
      if (call !== 'getRoles') return;
      if (args[0] === `${PARENT}.team-a`) throw new Error('a bug, not a ZmsError');
      pending++;
      await gate;
      pending--;
    };
    let settled = false;
    const run = t.reconciler.reconcile('m1').finally(() => {
      settled = true;
    });
    // The other namespaces are still reading; the reconcile must not have returned yet.
    await waitFor('the other two namespaces to be reading', () => pending === 2);
    expect(settled).toBe(false);
    release();
    await expect(run).rejects.toThrow('a bug, not a ZmsError');
    expect(pending).toBe(0);
  });
});

describe('MappingReconciler: a role is created only after a read right before the PUT', () => {
  it('does not PUT a role that appeared after the domain was listed', async () => {
    const t = setup();
    t.cluster.addNamespace('team-a', { team: 'yes' });
    t.zms.addDomain(`${PARENT}.team-a`);
    t.cluster.addMapping('m1', spec());
    // The role list shows no `viewers`; someone creates it before our direct read.
    t.zms.beforeAnswer = (call) => {
      if (call === 'getRoles') {
        t.zms.beforeAnswer = undefined;
        queueMicrotask(() => t.zms.setRole(`${PARENT}.team-a`, 'viewers', ['user.jane']));
      }
    };
    await t.reconciler.reconcile('m1');
    expect(t.zms.count('putRole')).toBe(0);
    expect(subjectsOf(t.cluster, VIEW_KEY)).toEqual(['user.jane']);
  });

  it('reads before creating a role even in a domain it has just created, and audits each write', async () => {
    const t = setup();
    t.cluster.addNamespace('team-a', { team: 'yes' });
    t.cluster.addMapping('m1', spec());
    await t.reconciler.reconcile('m1');
    const calls = t.zms.calls.map((c) => c.call);
    expect(calls.indexOf('putRole')).toBe(calls.lastIndexOf('getRole') + 1);
    const domain = t.zms.domains.get(`${PARENT}.team-a`)!.domain;
    expect(domain.tags?.[CREATED_BY_TAG]?.list).toEqual(['cluster-0001:m1']);
  });
});

describe('MappingReconciler: onNamespaceDelete: Delete', () => {
  function deleted(t: ReturnType<typeof setup>, tags: string[]) {
    t.cluster.addNamespace('team-a', { team: 'yes' });
    t.zms.addDomain(`${PARENT}.team-a`, { [CREATED_BY_TAG]: tags });
    t.cluster.addMapping('m1', spec({ domain: { onNamespaceDelete: 'Delete' } }));
    const uid = t.cluster.namespaces.get('team-a')!.uid;
    t.cluster.namespaces.delete('team-a');
    t.reconciler.noteNamespaceDeleted('m1', 'team-a', uid);
  }

  it('deletes the domain this cluster and mapping created', async () => {
    const t = setup();
    deleted(t, ['cluster-0001:m1']);
    await t.reconciler.reconcile('m1');
    expect(t.zms.domains.has(`${PARENT}.team-a`)).toBe(false);
  });

  it('keeps a domain a same-named mapping of another cluster created', async () => {
    const t = setup();
    deleted(t, ['cluster-0002:m1']);
    await t.reconciler.reconcile('m1');
    expect(t.zms.domains.has(`${PARENT}.team-a`)).toBe(true);
  });

  it('keeps a domain whose tag names only the mapping (created before cluster identities)', async () => {
    const t = setup();
    deleted(t, ['m1']);
    await t.reconciler.reconcile('m1');
    expect(t.zms.domains.has(`${PARENT}.team-a`)).toBe(true);
  });

  it('keeps the domain when the namespace exists again by the time the domain is read', async () => {
    const t = setup();
    deleted(t, ['cluster-0001:m1']);
    t.zms.beforeAnswer = (call) => {
      if (call === 'getDomain') t.cluster.addNamespace('team-a', { team: 'yes' });
    };
    await t.reconciler.reconcile('m1');
    expect(t.zms.count('deleteSubdomain')).toBe(0);
  });

  it('does nothing in a dry run', async () => {
    const t = setup();
    deleted(t, ['cluster-0001:m1']);
    t.cluster.mappings.get('m1')!.spec!.dryRun = true;
    await t.reconciler.reconcile('m1');
    expect(t.zms.count('deleteSubdomain')).toBe(0);
  });
});

describe('MappingReconciler: Warnings are aggregated', () => {
  it('emits one Warning for 50 namespaces failing for the same reason', async () => {
    const t = setup();
    for (let i = 0; i < 50; i++) t.team(`team-${i}`, ['user.jane']);
    t.cluster.addMapping('m1', spec());
    t.zms.fail('getRoles');
    await expect(t.reconciler.reconcile('m1')).rejects.toThrow(ReconcileError);
    await expect(t.reconciler.reconcile('m1')).rejects.toThrow(ReconcileError);
    const warnings = t.cluster.events.filter((e) => e.type === 'Warning');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.note).toMatch(/^50 namespaces failed: team-0: .* and 45 more$/);
    expect(t.cluster.statusOf('m1')?.namespaces?.failed).toBe(50);
  });
});

describe('MappingReconciler: objects it does not own', () => {
  it('never adopts a same-named RoleBinding someone else made, and says so in status', async () => {
    const t = setup();
    t.team('team-a', ['user.jane']);
    const mapping = t.cluster.addMapping('m1', spec());
    // Made by hand: the operator's name and roleRef, a subject of its own, no owner reference.
    t.cluster.put({
      namespace: 'team-a',
      name: 'athenz.viewers.view',
      labels: {},
      annotations: {},
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' },
      subjects: [{ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'user.mallory' }],
      ownerUids: [],
    });
    await t.reconciler.reconcile('m1');
    expect(subjectsOf(t.cluster, VIEW_KEY)).toEqual(['user.mallory']);
    expect(t.cluster.binding(VIEW_KEY)?.ownerUids).toEqual([]);
    expect(t.cluster.statusOf('m1')?.failures).toEqual([
      expect.objectContaining({ namespace: 'team-a', reason: 'BindingNameTaken' }),
    ]);
    expect(t.cluster.condition('m1', 'Ready')).toMatchObject({ status: 'False' });
    expect(mapping.uid).toBeTruthy();
  });

  it('leaves a binding that carries its labels but no owner reference to it', async () => {
    const t = setup();
    t.team('team-a', ['user.jane']);
    t.cluster.addMapping('m1', spec());
    t.cluster.put({
      namespace: 'team-a',
      name: 'athenz.old.view',
      labels: { 'app.kubernetes.io/managed-by': 'athenz-rbac-operator', 'rbac.athenz.io/mapping': 'm1' },
      annotations: { 'rbac.athenz.io/athenz-role': 'old' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' },
      subjects: [{ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'user.kept' }],
      ownerUids: [],
    });
    await t.reconciler.reconcile('m1');
    expect(subjectsOf(t.cluster, 'team-a/athenz.old.view')).toEqual(['user.kept']);
    expect(t.cluster.writes.filter((w) => w.verb === 'delete')).toEqual([]);
  });
});

describe('MappingReconciler: a spec it may not act on fully', () => {
  it('stops additions only: members removed in Athenz still lose access, and status says why', async () => {
    const t = setup();
    t.team('team-a', ['user.jane', 'user.joe']);
    t.cluster.addMapping('m1', spec());
    await t.reconciler.reconcile('m1');
    expect(subjectsOf(t.cluster, VIEW_KEY)).toEqual(['user.jane', 'user.joe']);

    // A role bound to a ClusterRole outside the allowed list freezes the mapping...
    t.cluster.updateSpec(
      'm1',
      spec({ roles: [...spec().roles, { athenzRole: 'root', clusterRole: 'cluster-admin' }] }),
    );
    t.cluster.addNamespace('team-b', { team: 'yes' });
    // ...while Athenz moves on: joe leaves, bob arrives.
    t.zms.setRole(`${PARENT}.team-a`, 'viewers', ['user.jane', 'user.bob']);
    t.cache.invalidateAll();
    await t.reconciler.reconcile('m1');

    expect(subjectsOf(t.cluster, VIEW_KEY)).toEqual(['user.jane']);
    expect(t.cluster.binding('team-a/athenz.root.cluster-admin')).toBeUndefined();
    expect(t.cluster.binding('team-b/athenz.viewers.view')).toBeUndefined();
    expect(t.zms.count('createSubdomain')).toBe(0);
    expect(t.zms.count('putRole')).toBe(0);
    expect(t.cluster.condition('m1', 'InvalidSpec')).toMatchObject({
      status: 'True',
      reason: 'ClusterRoleNotAllowed',
      message: expect.stringContaining(
        'Athenz role root: ClusterRole "cluster-admin" is not in the operator\'s allowed list',
      ),
    });
    expect(t.cluster.condition('m1', 'Ready')).toMatchObject({
      status: 'False',
      reason: 'ClusterRoleNotAllowed',
    });
    expect(t.entries).toContainEqual(
      expect.objectContaining({ message: 'access changed', principal: 'user.joe', reason: 'MemberRemoved' }),
    );

    // Fixed: everything resumes.
    t.cluster.updateSpec('m1', spec());
    await t.reconciler.reconcile('m1');
    expect(subjectsOf(t.cluster, VIEW_KEY)).toEqual(['user.bob', 'user.jane']);
    expect(t.cluster.condition('m1', 'Ready')).toMatchObject({ status: 'True' });
  });
});

describe('MappingReconciler: a domain ZMS verifies missing', () => {
  it('is a valid answer: its bindings lose every subject, and status says why', async () => {
    const t = setup();
    t.team('team-a', ['user.jane']);
    t.cluster.addMapping('m1', spec({ domain: { create: false } }));
    await t.reconciler.reconcile('m1');
    expect(subjectsOf(t.cluster, VIEW_KEY)).toEqual(['user.jane']);

    t.zms.domains.delete(`${PARENT}.team-a`);
    t.cache.invalidate(`${PARENT}.team-a`);
    await t.reconciler.reconcile('m1');
    expect(subjectsOf(t.cluster, VIEW_KEY)).toEqual([]);
    expect(t.cluster.statusOf('m1')?.failures).toEqual([
      expect.objectContaining({ namespace: 'team-a', reason: 'DomainNotFound' }),
    ]);
    expect(t.zms.count('createSubdomain')).toBe(0);
  });
});

describe('MappingReconciler: a role too large for one RoleBinding', () => {
  it('keeps what is bound and reports the size, instead of a partial list or an endless 413', async () => {
    const t = setup();
    t.team('team-a', ['user.jane']);
    t.cluster.addMapping('m1', spec());
    await t.reconciler.reconcile('m1');
    const many = Array.from({ length: 20_000 }, (_, i) => `user.member-number-${String(i).padStart(6, '0')}`);
    t.zms.setRole(`${PARENT}.team-a`, 'viewers', ['user.jane', ...many]);
    t.cache.invalidateAll();
    await t.reconciler.reconcile('m1');
    expect(subjectsOf(t.cluster, VIEW_KEY)).toEqual(['user.jane']);
    expect(t.cluster.statusOf('m1')?.failures).toEqual([
      expect.objectContaining({
        namespace: 'team-a',
        reason: 'BindingTooLarge',
        message: expect.stringMatching(/would hold 20001 subjects \(\d+ bytes\), over the 1000000 bytes/),
      }),
    ]);
    expect(t.cluster.writes.filter((w) => w.verb === 'apply')).toHaveLength(1);
  });
});

describe('MappingReconciler: a role deleted in Athenz', () => {
  it('is created again empty (after a verified 404), and its binding loses every subject', async () => {
    const t = setup();
    t.team('team-a', ['user.jane']);
    t.cluster.addMapping('m1', spec());
    await t.reconciler.reconcile('m1');
    t.zms.domains.get(`${PARENT}.team-a`)!.roles.delete('viewers');
    t.cache.invalidate(`${PARENT}.team-a`);
    await t.reconciler.reconcile('m1');
    expect(subjectsOf(t.cluster, VIEW_KEY)).toEqual([]);
    expect(
      t.zms.calls.filter((c) => c.call === 'getRole' || c.call === 'putRole').map((c) => c.call),
    ).toEqual(['getRole', 'putRole']);
  });
});
