import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { selecting, VIEWERS } from '../../support/cluster-fixtures.ts';
import {
  ATHENZ_ADMIN,
  type Harness,
  OPERATOR_PRINCIPAL,
  startHarness,
} from '../../support/operator-harness.ts';
import { waitFor } from '../../support/wait.ts';

let h: Harness;

const PARENT = 'eks.spec';

beforeAll(async () => {
  h = await startHarness();
  await h.ensureParentDomain(PARENT);
  await h.startOperator();
}, 60_000);
afterAll(async () => h?.stop());

describe('the CRD refuses a malformed mapping with a message naming the problem', () => {
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['no parent domain', { roles: VIEWERS }, /spec\.parentDomain: Required value/],
    [
      'a parent domain with a colon',
      { parentDomain: 'eks:users', roles: VIEWERS },
      /spec\.parentDomain: Invalid value/,
    ],
    ['no roles', { parentDomain: PARENT, roles: [] }, /spec\.roles: Invalid value.*at least 1/],
    [
      'the same Athenz role twice, in another case',
      { parentDomain: PARENT, roles: [...VIEWERS, { athenzRole: 'VIEWERS', clusterRole: 'edit' }] },
      /athenzRole must be unique/,
    ],
    [
      'a sync interval under 2s',
      { parentDomain: PARENT, roles: VIEWERS, syncInterval: '1s' },
      /syncInterval must be a duration from 2s to 1h/,
    ],
    [
      'a sync interval over 1h',
      { parentDomain: PARENT, roles: VIEWERS, syncInterval: '90m' },
      /syncInterval must be a duration from 2s to 1h/,
    ],
    [
      'a sync interval that is no duration',
      { parentDomain: PARENT, roles: VIEWERS, syncInterval: 'soon' },
      /syncInterval must be a duration/,
    ],
    [
      'an unknown services mode',
      { parentDomain: PARENT, roles: VIEWERS, subjects: { services: 'Group' } },
      /spec\.subjects\.services: Unsupported value/,
    ],
    [
      'a subject prefix in the space Kubernetes reserves',
      {
        parentDomain: PARENT,
        roles: VIEWERS,
        subjects: { userPrefix: 'system:serviceaccount:kube-system:' },
      },
      /userPrefix must not start with .{1,3}system:.{1,3}; Kubernetes reserves that space/,
    ],
    [
      'a subject prefix in the reserved space, in capitals',
      { parentDomain: PARENT, roles: VIEWERS, subjects: { userPrefix: 'System:masters-' } },
      /Invalid value: .{1,3}System:masters-.{1,3}: userPrefix must not start with/,
    ],
    [
      'a label key with a space and a bang',
      { parentDomain: PARENT, roles: VIEWERS, namespaceSelector: { matchLabels: { 'bad key!': 'x' } } },
      /every matchLabels key must be a label key/,
    ],
    [
      'a label value with a slash',
      { parentDomain: PARENT, roles: VIEWERS, namespaceSelector: { matchLabels: { team: 'a/b' } } },
      /spec\.namespaceSelector\.matchLabels\.team: Invalid value/,
    ],
    [
      'a match expression key that is no label key',
      {
        parentDomain: PARENT,
        roles: VIEWERS,
        namespaceSelector: { matchExpressions: [{ key: '-team', operator: 'Exists' }] },
      },
      /spec\.namespaceSelector\.matchExpressions\[0\]\.key: Invalid value/,
    ],
    [
      'an Athenz role name with a space',
      { parentDomain: PARENT, roles: [{ athenzRole: 'my viewers', clusterRole: 'view' }] },
      /spec\.roles\[0\]\.athenzRole: Invalid value/,
    ],
  ];
  it('a name longer than a label value can be', async () => {
    const err = (await h.cluster.createMapping('m'.repeat(64), { parentDomain: PARENT, roles: VIEWERS }).then(
      () => undefined,
      (e: unknown) => e,
    )) as { code?: number; body?: string };
    expect(err?.code).toBe(422);
    expect(String(err.body)).toMatch(
      /the name must be at most 63 characters, since it is the value of the rbac.athenz.io\/mapping label/,
    );
  });

  it.each(cases)('%s', async (_title, spec, message) => {
    const attempt = h.cluster.custom.createClusterCustomObject({
      group: 'rbac.athenz.io',
      version: 'v1alpha1',
      plural: 'athenzrolemappings',
      body: {
        apiVersion: 'rbac.athenz.io/v1alpha1',
        kind: 'AthenzRoleMapping',
        metadata: { name: 'malformed' },
        spec,
      },
    });
    const err = (await attempt.then(
      () => undefined,
      (e: unknown) => e,
    )) as { code?: number; body?: string };
    expect(err?.code).toBe(422);
    expect(String(err.body)).toMatch(message);
  });

  it('fills in the documented defaults', async () => {
    await h.cluster.createMapping('defaults', {
      parentDomain: PARENT,
      roles: VIEWERS,
      ...selecting('defaults'),
    });
    const m = await h.cluster.getMapping('defaults');
    expect(m?.spec).toMatchObject({
      syncInterval: '30s',
      suspend: false,
      dryRun: false,
      domain: { create: true, onNamespaceDelete: 'Retain' },
      subjects: { userPrefix: '', services: 'User', groups: 'Expand' },
    });
  });
});

describe('the operator refuses what the installer did not allow', () => {
  it('binds nothing for a ClusterRole outside the allowed list and says why', async () => {
    await h.cluster.createMapping('too-strong', {
      parentDomain: PARENT,
      ...selecting('too-strong'),
      roles: [
        { athenzRole: 'viewers', clusterRole: 'view' },
        { athenzRole: 'root', clusterRole: 'cluster-admin' },
      ],
    });
    await h.cluster.createNamespace('too-strong', { 'test/mapping': 'too-strong' });
    const m = await h.cluster.waitForCondition('too-strong', 'InvalidSpec', 'True', 'ClusterRoleNotAllowed');
    expect(m.status?.conditions?.find((c) => c.type === 'InvalidSpec')?.message).toMatch(
      /"cluster-admin" is not in the operator's allowed list/,
    );
    expect(m.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('False');
    const list = await h.cluster.rbac.listNamespacedRoleBinding({ namespace: 'too-strong' });
    expect(list.items).toEqual([]);
    expect(await h.admin.getDomain(`${PARENT}.too-strong`)).toBeUndefined();
  });
});

describe('two mappings claiming the same role in the same namespace', () => {
  it('leaves it to the older one and reports a Conflict on the newer', async () => {
    await h.cluster.createMapping('first', {
      parentDomain: PARENT,
      ...selecting('shared'),
      roles: VIEWERS,
      syncInterval: '2s',
    });
    await h.cluster.createNamespace('shared', { 'test/mapping': 'shared' });
    await h.cluster.waitForSubjects('shared', 'athenz.viewers.view', []);
    await h.cluster.createMapping('second', {
      parentDomain: PARENT,
      ...selecting('shared'),
      roles: [...VIEWERS, { athenzRole: 'editors', clusterRole: 'edit' }],
      syncInterval: '2s',
    });
    const second = await h.cluster.waitForCondition(
      'second',
      'Conflict',
      'True',
      'RolesClaimedByOlderMapping',
    );
    expect(second.status?.conditions?.find((c) => c.type === 'Conflict')?.message).toMatch(
      /shared\/viewers \(managed by first\)/,
    );
    await h.cluster.waitForSubjects('shared', 'athenz.editors.edit', []);
    const viewersBinding = await h.cluster.getRoleBinding('shared', 'athenz.viewers.view');
    expect(viewersBinding?.metadata?.labels?.['rbac.athenz.io/mapping']).toBe('first');
    const first = await h.cluster.getMapping('first');
    expect(first?.status?.conditions?.find((c) => c.type === 'Conflict')?.status).toBe('False');
    // kubectl get shows it at a glance: READY alone would say True.
    const table = execFileSync(
      join(h.plane.assetsDir, 'kubectl'),
      ['--kubeconfig', h.plane.kubeconfigPath, 'get', 'athenzrolemappings', 'first', 'second'],
      { encoding: 'utf8' },
    );
    const [header, ...rows] = table.trim().split('\n');
    const column = (row: string, name: string) => row.split(/\s+/)[header!.split(/\s+/).indexOf(name)];
    expect(header).toMatch(/\bCONFLICT\b/);
    expect(rows.map((r) => [column(r, 'NAME'), column(r, 'READY'), column(r, 'CONFLICT')])).toEqual([
      ['first', 'True', 'False'],
      ['second', 'True', 'True'],
    ]);
  });
});

describe('dry run and suspend', () => {
  it('dry run reports the planned changes and writes nothing, in Athenz or Kubernetes', async () => {
    await h.cluster.createMapping('rehearsal', {
      parentDomain: PARENT,
      ...selecting('rehearsal'),
      roles: VIEWERS,
      dryRun: true,
    });
    await h.cluster.createNamespace('rehearsal', { 'test/mapping': 'rehearsal' });
    const m = await h.cluster.waitForCondition('rehearsal', 'Ready', 'False', 'DryRun');
    expect(m.status?.mode).toBe('DryRun');
    expect(m.status?.plannedChanges).toEqual(
      expect.arrayContaining([
        { action: 'CreateDomain', namespace: 'rehearsal', target: `${PARENT}.rehearsal` },
        { action: 'CreateRole', namespace: 'rehearsal', target: `${PARENT}.rehearsal:role.viewers` },
      ]),
    );
    expect(await h.admin.getDomain(`${PARENT}.rehearsal`)).toBeUndefined();
    expect((await h.cluster.rbac.listNamespacedRoleBinding({ namespace: 'rehearsal' })).items).toEqual([]);
  });

  it('dry run lists subject changes against existing bindings', async () => {
    await h.admin.ensureDomain(`${PARENT}.preview`, [ATHENZ_ADMIN, OPERATOR_PRINCIPAL]);
    await h.admin.putRole(`${PARENT}.preview`, 'viewers', ['user.alice']);
    await h.cluster.createMapping('preview', {
      parentDomain: PARENT,
      ...selecting('preview'),
      roles: VIEWERS,
      syncInterval: '2s',
    });
    await h.cluster.createNamespace('preview', { 'test/mapping': 'preview' });
    await h.cluster.waitForSubjects('preview', 'athenz.viewers.view', ['user.alice']);
    await h.cluster.patchMappingSpec('preview', { dryRun: true });
    await h.cluster.waitForCondition('preview', 'Ready', 'True', 'DryRun');
    await h.admin.addMember(`${PARENT}.preview`, 'viewers', 'user.bob');
    const m = await waitFor('the planned addition of user.bob', async () => {
      const got = await h.cluster.getMapping('preview');
      return got?.status?.plannedChanges?.some((c) => c.subject === 'user.bob') ? got : undefined;
    });
    expect(m.status?.plannedChanges).toContainEqual({
      action: 'AddSubject',
      namespace: 'preview',
      target: 'athenz.viewers.view',
      subject: 'user.bob',
    });
    expect(await h.cluster.subjectsOf('preview', 'athenz.viewers.view')).toEqual(['user.alice']);
  });

  it('suspend keeps the existing bindings and stops following Athenz', async () => {
    await h.admin.ensureDomain(`${PARENT}.paused`, [ATHENZ_ADMIN, OPERATOR_PRINCIPAL]);
    await h.admin.putRole(`${PARENT}.paused`, 'viewers', ['user.alice']);
    await h.cluster.createMapping('paused', {
      parentDomain: PARENT,
      ...selecting('paused'),
      roles: VIEWERS,
      syncInterval: '2s',
    });
    await h.cluster.createNamespace('paused', { 'test/mapping': 'paused' });
    await h.cluster.waitForSubjects('paused', 'athenz.viewers.view', ['user.alice']);
    await h.cluster.patchMappingSpec('paused', { suspend: true });
    const m = await h.cluster.waitForCondition('paused', 'Ready', 'Unknown', 'Suspended');
    expect(m.status?.mode).toBe('Suspended');
    await h.admin.removeMember(`${PARENT}.paused`, 'viewers', 'user.alice');
    // Two poll intervals later the removal has still not been applied.
    const polls = h.zms.counters.count('GET /sys/modified_domains');
    await waitFor(
      'two more change polls',
      () => h.zms.counters.count('GET /sys/modified_domains') >= polls + 2 || undefined,
    );
    expect(await h.cluster.subjectsOf('paused', 'athenz.viewers.view')).toEqual(['user.alice']);
    await h.cluster.patchMappingSpec('paused', { suspend: false });
    await h.cluster.waitForSubjects('paused', 'athenz.viewers.view', []);
  });
});
