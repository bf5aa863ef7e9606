import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { VIEWERS } from '../../support/cluster-fixtures.ts';
import {
  ATHENZ_ADMIN,
  type Harness,
  OPERATOR_PRINCIPAL,
  startHarness,
} from '../../support/operator-harness.ts';
import { waitFor } from '../../support/wait.ts';

/**
 * The operator as an attacker or an unlucky operator would meet it, on the real control plane
 * and the ZMS test server. Each table row states the expected outcome: refused with a message,
 * reported in status, or repaired; and in every case no access is lost or granted wrongly.
 * (ZMS faults, API server restarts and kills are in fail-static, lifecycle and the process tests.)
 */
let h: Harness;
const PARENT = 'eks.hostile';
const MANAGED = { 'app.kubernetes.io/managed-by': 'athenz-rbac-operator' };

beforeAll(async () => {
  // A quota as a large installation raises it, so that a role can outgrow one RoleBinding.
  h = await startHarness({ quotas: { membersPerRole: 25_000 } });
  await h.ensureParentDomain(PARENT);
  await h.startOperator();
}, 60_000);
afterAll(async () => h?.stop());

async function refusal(spec: unknown, name = 'hostile'): Promise<string> {
  const err = (await h.cluster.custom
    .createClusterCustomObject({
      group: 'rbac.athenz.io',
      version: 'v1alpha1',
      plural: 'athenzrolemappings',
      body: { apiVersion: 'rbac.athenz.io/v1alpha1', kind: 'AthenzRoleMapping', metadata: { name }, spec },
    })
    .then(
      () => undefined,
      (e: unknown) => e,
    )) as { code?: number; body?: string } | undefined;
  if (!err) {
    await h.cluster.deleteMapping(name);
    throw new Error(`the API server accepted ${JSON.stringify(spec)}`);
  }
  expect(err.code).toBe(422);
  return String(err.body);
}

/** A mapping over one fresh namespace whose Athenz domain has a viewers role with `members`. */
async function mapped(name: string, members: Array<string | { memberName: string; expiration?: string }>) {
  const domain = `${PARENT}.${name}`;
  await h.admin.ensureDomain(domain, [ATHENZ_ADMIN, OPERATOR_PRINCIPAL]);
  await h.admin.putRole(domain, 'viewers', members);
  const mapping = (await h.cluster.createMapping(name, {
    parentDomain: PARENT,
    namespaceSelector: { matchLabels: { 'test/mapping': name } },
    roles: VIEWERS,
    syncInterval: '2s',
  })) as { metadata: { uid: string } };
  return {
    domain,
    uid: mapping.metadata.uid,
    select: () => h.cluster.createNamespace(name, { 'test/mapping': name }),
  };
}

async function failureOf(mapping: string, namespace: string, reason: string) {
  return waitFor(`${mapping} to report ${reason} for ${namespace}`, async () => {
    const m = await h.cluster.getMapping(mapping);
    return m?.status?.failures?.find((f) => f.namespace === namespace && f.reason === reason);
  });
}

const base = { parentDomain: PARENT, roles: VIEWERS };
const long = (n: number) => 'a'.repeat(n);

describe('malformed specs are refused by the CRD with a message naming the field', () => {
  const cases: Array<[string, unknown, RegExp]> = [
    [
      'parentDomain of the wrong type',
      { ...base, parentDomain: 42 },
      /spec\.parentDomain in body must be of type string/,
    ],
    ['an empty parentDomain', { ...base, parentDomain: '' }, /spec\.parentDomain: Invalid value/],
    ['a parentDomain too long', { ...base, parentDomain: long(200) }, /spec\.parentDomain: Too long/],
    ['roles that are not a list', { ...base, roles: 'viewers' }, /spec\.roles in body must be of type array/],
    [
      'a role without a ClusterRole',
      { ...base, roles: [{ athenzRole: 'viewers' }] },
      /clusterRole: Required value/,
    ],
    [
      'fifty-one roles',
      {
        ...base,
        roles: Array.from({ length: 51 }, (_, i) => ({ athenzRole: `r${i}`, clusterRole: 'view' })),
      },
      /spec\.roles: Too many/,
    ],
    [
      'a syncInterval that is a number',
      { ...base, syncInterval: 30 },
      /spec\.syncInterval in body must be of type string/,
    ],
    [
      'a userPrefix too long',
      { ...base, subjects: { userPrefix: long(65) } },
      /spec\.subjects\.userPrefix: Too long/,
    ],
    [
      'an unknown groups mode',
      { ...base, subjects: { groups: 'Flatten' } },
      /spec\.subjects\.groups: Unsupported value/,
    ],
    ['suspend as a string', { ...base, suspend: 'yes' }, /spec\.suspend in body must be of type boolean/],
    [
      'an unknown onNamespaceDelete',
      { ...base, domain: { onNamespaceDelete: 'Purge' } },
      /spec\.domain\.onNamespaceDelete: Unsupported value/,
    ],
    [
      'a selector value that is no label value',
      { ...base, namespaceSelector: { matchLabels: { team: 'a b' } } },
      /spec\.namespaceSelector\.matchLabels\.team: Invalid value/,
    ],
  ];
  it.each(cases)('%s', async (_title, spec, message) => {
    expect(await refusal(spec)).toMatch(message);
  });
});

describe('names that collide with objects the operator does not own are reported, never adopted', () => {
  const cases: Array<[string, Record<string, string>]> = [
    ['an unlabelled RoleBinding of the same name', {}],
    [
      'one that carries the operator labels but no owner reference',
      { ...MANAGED, 'rbac.athenz.io/mapping': 'taken-1' },
    ],
  ];
  it.each(cases)('%s', async (title, labels) => {
    const name = title.startsWith('an unlabelled') ? 'taken-0' : 'taken-1';
    const m = await mapped(name, ['user.alice']);
    await h.cluster.createNamespace(name);
    const body: k8s.V1RoleBinding = {
      metadata: { name: 'athenz.viewers.view', namespace: name, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' },
      subjects: [{ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'user.squatter' }],
    };
    await h.cluster.rbac.createNamespacedRoleBinding({ namespace: name, body });
    await h.cluster.labelNamespace(name, { 'test/mapping': name });
    expect((await failureOf(name, name, 'BindingNameTaken')).message).toContain(
      'not created by this mapping',
    );
    const kept = await h.cluster.getRoleBinding(name, 'athenz.viewers.view');
    expect(kept?.subjects?.map((s) => s.name)).toEqual(['user.squatter']);
    expect(kept?.metadata?.ownerReferences?.some((o) => o.uid === m.uid)).not.toBe(true);
  });
});

describe('Athenz content at the limits is bound by the rules or reported, never cut silently', () => {
  it('odd member names: case folded, malformed and wildcard ones skipped, expired ones not bound', async () => {
    const m = await mapped('odd-names', [
      'USER.Upper',
      'user.a_b-c',
      'user.*',
      { memberName: 'user.gone', expiration: '2020-01-01T00:00:00.000Z' },
      { memberName: 'user.later', expiration: '2999-01-01T00:00:00.000Z' },
    ]);
    await m.select();
    await h.cluster.waitForSubjects('odd-names', 'athenz.viewers.view', [
      'user.a_b-c',
      'user.later',
      'user.upper',
    ]);
  });

  it('a role too large for one RoleBinding keeps what is bound and says so', async () => {
    const m = await mapped('huge', ['user.first']);
    await m.select();
    await h.cluster.waitForSubjects('huge', 'athenz.viewers.view', ['user.first']);
    const many = Array.from({ length: 20_000 }, (_, i) => `user.member-${String(i).padStart(6, '0')}`);
    await h.admin.putRole(m.domain, 'viewers', ['user.first', ...many]);
    expect((await failureOf('huge', 'huge', 'BindingTooLarge')).message).toMatch(/would hold 20001 subjects/);
    expect(await h.cluster.subjectsOf('huge', 'athenz.viewers.view')).toEqual(['user.first']);
  }, 60_000);
});

describe('a namespace admin cannot make the operator grant more than declared', () => {
  it('a binding forged to look like the operator’s is removed, not kept or blessed', async () => {
    const m = await mapped('forged', ['user.alice']);
    await m.select();
    await h.cluster.waitForSubjects('forged', 'athenz.viewers.view', ['user.alice']);
    // A namespace admin may create RoleBindings to admin in their namespace; this one claims to
    // be the operator's for an Athenz role the mapping does not map.
    const token = await h.plane.mintToken('forged', 'ns-admin');
    // What a namespace admin may do with RoleBindings: write them, and bind `admin` in it.
    await h.cluster.rbac.createNamespacedRole({
      namespace: 'forged',
      body: {
        metadata: { name: 'binder' },
        rules: [
          {
            apiGroups: ['rbac.authorization.k8s.io'],
            resources: ['rolebindings'],
            verbs: ['get', 'list', 'create'],
          },
          {
            apiGroups: ['rbac.authorization.k8s.io'],
            resources: ['clusterroles'],
            verbs: ['bind'],
            resourceNames: ['admin'],
          },
        ],
      },
    });
    await h.cluster.rbac.createNamespacedRoleBinding({
      namespace: 'forged',
      body: {
        metadata: { name: 'ns-admin-binds' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'binder' },
        subjects: [{ kind: 'ServiceAccount', name: 'ns-admin', namespace: 'forged' }],
      },
    });
    const asNsAdmin = h.plane.kubeConfigForToken(token).kubeConfig.makeApiClient(k8s.RbacAuthorizationV1Api);
    await waitFor('the namespace admin to create the forged binding', async () => {
      try {
        await asNsAdmin.createNamespacedRoleBinding({
          namespace: 'forged',
          body: {
            metadata: {
              name: 'athenz.extra.admin',
              labels: { ...MANAGED, 'rbac.athenz.io/mapping': 'forged' },
              annotations: {
                'rbac.athenz.io/athenz-role': 'extra',
                'rbac.athenz.io/athenz-domain': m.domain,
              },
              ownerReferences: [
                {
                  apiVersion: 'rbac.athenz.io/v1alpha1',
                  kind: 'AthenzRoleMapping',
                  name: 'forged',
                  uid: m.uid,
                },
              ],
            },
            roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'admin' },
            subjects: [{ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'user.mallory' }],
          },
        });
        return true;
      } catch (err) {
        // RBAC for the new ServiceAccount binding may take a moment to be seen.
        if ((err as { code?: number }).code === 403) return false;
        throw err;
      }
    });
    await waitFor(
      'the forged binding to be removed',
      async () => (await h.cluster.getRoleBinding('forged', 'athenz.extra.admin')) === undefined,
    );
    expect(await h.cluster.subjectsOf('forged', 'athenz.viewers.view')).toEqual(['user.alice']);
  });
});

describe('faults an unlucky operator makes', () => {
  it('two operators without leader election converge on the same bindings and then write nothing', async () => {
    const second = await h.startOperator({ instance: 'second' });
    try {
      const m = await mapped('twice', ['user.alice']);
      await m.select();
      await h.cluster.waitForSubjects('twice', 'athenz.viewers.view', ['user.alice']);
      await h.admin.addMember(m.domain, 'viewers', 'user.bob');
      await h.admin.removeMember(m.domain, 'viewers', 'user.alice');
      await h.cluster.waitForSubjects('twice', 'athenz.viewers.view', ['user.bob'], 20_000);
      // Both have heard of the change once each has polled twice more with nothing new...
      const quietPolls = (n: number) => {
        const from = h.zms.counters.count('GET /sys/modified_domains', 304);
        return waitFor(
          `${n} more quiet polls`,
          () => h.zms.counters.count('GET /sys/modified_domains', 304) >= from + n || undefined,
        );
      };
      await quietPolls(6);
      // ...and from then on neither writes (no tug of war between them).
      const binding = () => h.cluster.getRoleBinding('twice', 'athenz.viewers.view');
      const before = (await binding())?.metadata?.resourceVersion;
      await quietPolls(6);
      const after = await binding();
      expect(after?.subjects?.map((s) => s.name)).toEqual(['user.bob']);
      expect(after?.metadata?.resourceVersion).toBe(before);
    } finally {
      await second.stop();
    }
  }, 60_000);
});

describe('a control plane that stalls', () => {
  it('a frozen kube-apiserver delays a change, loses nothing, and the change lands once it answers', async () => {
    const m = await mapped('frozen', ['user.alice']);
    await m.select();
    await h.cluster.waitForSubjects('frozen', 'athenz.viewers.view', ['user.alice']);
    const changed = h.zms.counters.count('GET /sys/modified_domains', 200);
    const freeze = h.plane.freezeApiServer();
    try {
      await h.admin.addMember(m.domain, 'viewers', 'user.bob');
      // The operator hears of it while the API server cannot answer (its writes hang meanwhile).
      await waitFor(
        'the change to be seen while frozen',
        () => h.zms.counters.count('GET /sys/modified_domains', 200) > changed || undefined,
      );
    } finally {
      freeze.resume();
    }
    await h.cluster.waitForSubjects('frozen', 'athenz.viewers.view', ['user.alice', 'user.bob'], 45_000);
    await h.cluster.waitForCondition('frozen', 'Ready', 'True', 'Synced', 30_000);
  }, 90_000);

  it('a restarted kube-apiserver costs nobody access, and changes follow as soon as it serves', async () => {
    const m = await mapped('restarted', ['user.alice']);
    await m.select();
    await h.cluster.waitForSubjects('restarted', 'athenz.viewers.view', ['user.alice']);
    const before = (await h.cluster.getRoleBinding('restarted', 'athenz.viewers.view'))?.metadata?.uid;
    await h.plane.restartApiServer();
    await h.admin.addMember(m.domain, 'viewers', 'user.bob');
    await h.cluster.waitForSubjects('restarted', 'athenz.viewers.view', ['user.alice', 'user.bob'], 45_000);
    // The same object, updated in place: never deleted and created again.
    expect((await h.cluster.getRoleBinding('restarted', 'athenz.viewers.view'))?.metadata?.uid).toBe(before);
    // Its watches are back too: a binding deleted by hand is recreated from the watch event.
    await h.cluster.rbac.deleteNamespacedRoleBinding({ namespace: 'restarted', name: 'athenz.viewers.view' });
    await h.cluster.waitForSubjects('restarted', 'athenz.viewers.view', ['user.alice', 'user.bob'], 45_000);
    await h.cluster.waitForCondition('restarted', 'Ready', 'True', 'Synced', 30_000);
  }, 120_000);
});
