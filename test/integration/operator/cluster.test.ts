import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { selecting } from '../../support/cluster-fixtures.ts';
import {
  ATHENZ_ADMIN,
  type Harness,
  type RunningOperator,
  startHarness,
} from '../../support/operator-harness.ts';
import { waitFor } from '../../support/wait.ts';

/**
 * What the operator's work means on a cluster that behaves like one (kube-controller-manager runs
 * beside the API server): the bound ClusterRoles carry their aggregated rules, deleted namespaces
 * are emptied and removed by the namespace controller, and the garbage collector follows owner
 * references. Proven as a user would see it: what a member of an Athenz role may do, what is left
 * after a namespace or a mapping goes.
 */
let h: Harness;
let op: RunningOperator;
let authz: k8s.AuthorizationV1Api;
const PARENT = 'eks.cluster';
const run = promisify(execFile);
const ROLES = [
  { athenzRole: 'admins', clusterRole: 'admin' },
  { athenzRole: 'editors', clusterRole: 'edit' },
  { athenzRole: 'viewers', clusterRole: 'view' },
];

beforeAll(async () => {
  h = await startHarness();
  await h.ensureParentDomain(PARENT);
  op = await h.startOperator();
  authz = h.plane.kubeConfig.makeApiClient(k8s.AuthorizationV1Api);
}, 60_000);
afterAll(async () => h?.stop());

type Access = { verb: string; resource: string; group?: string; namespace?: string };

/** The API server's own answer to "may `user` do this?" (a SubjectAccessReview). */
async function allowed(user: string, { verb, resource, group = '', namespace }: Access): Promise<boolean> {
  const review = await authz.createSubjectAccessReview({
    body: { spec: { user, resourceAttributes: { verb, resource, group, namespace } } },
  });
  return review.status?.allowed === true;
}

/** `kubectl <args> --as <user>`: the exit code and output a user of that name would get. */
async function kubectlAs(user: string, args: string[]) {
  return run(join(h.plane.assetsDir, 'kubectl'), [...args, `--as=${user}`], {
    env: { ...process.env, KUBECONFIG: h.plane.kubeconfigPath },
  }).then(
    (r) => ({ code: 0, out: r.stdout.trim() }),
    (e: { code?: number; stdout?: string; stderr?: string }) => ({
      code: e.code ?? 1,
      out: `${e.stdout ?? ''}${e.stderr ?? ''}`.trim(),
    }),
  );
}

const gone = (read: Promise<unknown>) =>
  read.then(
    () => false,
    (e: { code?: number }) => e.code === 404,
  );

/** Waits until `mapping` is Ready with its one remaining namespace synced and no failure. */
async function settled(mapping: string) {
  let seen: unknown;
  return waitFor(
    `mapping ${mapping} to be Ready with 1/1 namespaces synced and no failures`,
    async () => {
      const m = await h.cluster.getMapping(mapping);
      seen = m?.status;
      const ready = m?.status?.conditions?.find((c) => c.type === 'Ready');
      return ready?.status === 'True' &&
        m?.status?.namespacesSynced === '1/1' &&
        (m.status.failures ?? []).length === 0
        ? m
        : undefined;
    },
    { observed: () => seen },
  );
}

function errorLogs() {
  return op.logs.filter((e) => e.level === 'error');
}

describe('a member of a mapped Athenz role', () => {
  it('may do what view, edit and admin allow in that namespace, and nothing in any other', async () => {
    await h.cluster.createMapping('access', {
      parentDomain: PARENT,
      ...selecting('access'),
      roles: ROLES,
      domain: { adminUsers: [ATHENZ_ADMIN] },
      syncInterval: '2s',
    });
    await h.cluster.createNamespace('access-a', { 'test/mapping': 'access' });
    await h.cluster.createNamespace('access-b', { 'test/mapping': 'access' });
    await h.cluster.createNamespace('access-none');
    await h.cluster.waitForSubjects('access-a', 'athenz.viewers.view', []);
    await h.cluster.waitForSubjects('access-b', 'athenz.viewers.view', []);
    await h.admin.addMember(`${PARENT}.access-a`, 'viewers', 'user.vera');
    await h.admin.addMember(`${PARENT}.access-a`, 'editors', 'user.ed');
    await h.admin.addMember(`${PARENT}.access-a`, 'admins', 'user.ada');
    await h.cluster.waitForSubjects('access-a', 'athenz.viewers.view', ['user.vera']);
    await h.cluster.waitForSubjects('access-a', 'athenz.editors.edit', ['user.ed']);
    await h.cluster.waitForSubjects('access-a', 'athenz.admins.admin', ['user.ada']);

    // The authorizer reads bindings from its own cache: wait for it to see the last one.
    const ns = 'access-a';
    await waitFor('the authorizer to see the admin binding', () =>
      allowed('user.ada', {
        verb: 'create',
        resource: 'rolebindings',
        group: 'rbac.authorization.k8s.io',
        namespace: ns,
      }),
    );
    await waitFor('the authorizer to see the view binding', () =>
      allowed('user.vera', { verb: 'list', resource: 'pods', namespace: ns }),
    );
    await waitFor('the authorizer to see the edit binding', () =>
      allowed('user.ed', { verb: 'create', resource: 'configmaps', namespace: ns }),
    );
    const rbacGroup = 'rbac.authorization.k8s.io';
    const expected: Array<[string, Access, boolean]> = [
      // view: read most things, no Secrets, no writes.
      ['user.vera', { verb: 'get', resource: 'configmaps', namespace: ns }, true],
      ['user.vera', { verb: 'watch', resource: 'deployments', group: 'apps', namespace: ns }, true],
      ['user.vera', { verb: 'get', resource: 'secrets', namespace: ns }, false],
      ['user.vera', { verb: 'create', resource: 'configmaps', namespace: ns }, false],
      ['user.vera', { verb: 'list', resource: 'rolebindings', group: rbacGroup, namespace: ns }, false],
      // edit: write workloads and Secrets, but no RBAC.
      ['user.ed', { verb: 'delete', resource: 'deployments', group: 'apps', namespace: ns }, true],
      ['user.ed', { verb: 'get', resource: 'secrets', namespace: ns }, true],
      ['user.ed', { verb: 'create', resource: 'rolebindings', group: rbacGroup, namespace: ns }, false],
      // admin: RBAC inside the namespace too, but not its quota or the namespace itself.
      ['user.ada', { verb: 'delete', resource: 'roles', group: rbacGroup, namespace: ns }, true],
      ['user.ada', { verb: 'update', resource: 'resourcequotas', namespace: ns }, false],
      ['user.ada', { verb: 'delete', resource: 'namespaces' }, false],
    ];
    // Nothing anywhere else: not in another namespace of the same mapping, not in an unmapped
    // one, not cluster-wide.
    for (const user of ['user.vera', 'user.ed', 'user.ada']) {
      for (const other of ['access-b', 'access-none', 'default']) {
        expected.push([user, { verb: 'get', resource: 'configmaps', namespace: other }, false]);
      }
      expected.push([user, { verb: 'list', resource: 'namespaces' }, false]);
      expected.push([user, { verb: 'list', resource: 'configmaps' }, false]);
    }
    const answers = await Promise.all(
      expected.map(async ([user, access]) => [user, access, await allowed(user, access)] as const),
    );
    expect(answers).toEqual(expected);

    // And for real, as those users through kubectl (impersonated by the admin).
    const created = await kubectlAs('user.ed', ['-n', ns, 'create', 'configmap', 'by-ed']);
    expect(created).toEqual({ code: 0, out: 'configmap/by-ed created' });
    expect(await kubectlAs('user.vera', ['-n', ns, 'get', 'configmap', 'by-ed', '-o', 'name'])).toEqual({
      code: 0,
      out: 'configmap/by-ed',
    });
    const refused = await kubectlAs('user.vera', ['-n', ns, 'delete', 'configmap', 'by-ed']);
    expect(refused.code).not.toBe(0);
    expect(refused.out).toContain('User "user.vera" cannot delete resource "configmaps"');
    const elsewhere = await kubectlAs('user.ed', ['-n', 'access-b', 'create', 'configmap', 'by-ed']);
    expect(elsewhere.code).not.toBe(0);
    expect(elsewhere.out).toContain('User "user.ed" cannot create resource "configmaps"');
    expect(await kubectlAs('user.ada', ['auth', 'can-i', 'create', 'rolebindings', '-n', ns])).toEqual({
      code: 0,
      out: 'yes',
    });
  });

  it('loses that access when removed from the Athenz role', async () => {
    await h.admin.removeMember(`${PARENT}.access-a`, 'viewers', 'user.vera');
    await h.cluster.waitForSubjects('access-a', 'athenz.viewers.view', []);
    await waitFor(
      'the authorizer to drop the removed member',
      async () =>
        !(await allowed('user.vera', { verb: 'get', resource: 'configmaps', namespace: 'access-a' })),
    );
    const refused = await kubectlAs('user.vera', ['-n', 'access-a', 'get', 'configmaps']);
    expect(refused.code).not.toBe(0);
    expect(refused.out).toContain('User "user.vera" cannot list resource "configmaps"');
    expect(errorLogs()).toEqual([]);
  });
});

describe('deleting a namespace while its mapping syncs', () => {
  const HOLD = 'test.athenz.io/hold';
  /** A ConfigMap whose finalizer keeps its namespace Terminating until the test releases it. */
  const hold = (namespace: string) =>
    h.cluster.core.createNamespacedConfigMap({
      namespace,
      body: { metadata: { name: 'hold', finalizers: [HOLD] } },
    });
  const release = (namespace: string) =>
    h.cluster.core.patchNamespacedConfigMap(
      { namespace, name: 'hold', body: { metadata: { finalizers: null } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );

  it('ends cleanly: the namespace goes by itself, and its subdomain is kept or deleted as onNamespaceDelete says', async () => {
    for (const [mapping, policy] of [
      ['ns-retain', 'Retain'],
      ['ns-delete', 'Delete'],
    ] as const) {
      await h.cluster.createMapping(mapping, {
        parentDomain: PARENT,
        ...selecting(mapping),
        roles: [{ athenzRole: 'viewers', clusterRole: 'view' }],
        domain: { adminUsers: [ATHENZ_ADMIN], onNamespaceDelete: policy },
        syncInterval: '2s',
      });
    }
    const doomed = { 'ns-retain': 'doomed-retain', 'ns-delete': 'doomed-delete' } as const;
    const stays = { 'ns-retain': 'stays-retain', 'ns-delete': 'stays-delete' } as const;
    for (const mapping of ['ns-retain', 'ns-delete'] as const) {
      for (const ns of [doomed[mapping], stays[mapping]]) {
        await h.cluster.createNamespace(ns, { 'test/mapping': mapping });
      }
    }
    for (const ns of [...Object.values(doomed), ...Object.values(stays)]) {
      await h.cluster.waitForSubjects(ns, 'athenz.viewers.view', []);
      await h.admin.addMember(`${PARENT}.${ns}`, 'viewers', 'user.alice');
    }
    for (const ns of [...Object.values(doomed), ...Object.values(stays)]) {
      await h.cluster.waitForSubjects(ns, 'athenz.viewers.view', ['user.alice']);
    }
    for (const ns of Object.values(doomed)) {
      await hold(ns);
      await h.cluster.core.deleteNamespace({ name: ns });
    }
    // The namespace controller empties the namespaces (the operator's RoleBindings too) and
    // waits for the held ConfigMap: Terminating, with content left.
    for (const ns of Object.values(doomed)) {
      await waitFor(
        `namespace ${ns} to be emptied but for the held ConfigMap`,
        async () => {
          const got = await h.cluster.core.readNamespace({ name: ns });
          return got.status?.conditions?.some(
            (c) => c.type === 'NamespaceFinalizersRemaining' && c.status === 'True',
          );
        },
        { timeoutMs: 30_000 },
      );
      expect(await h.cluster.getRoleBinding(ns, 'athenz.viewers.view')).toBeUndefined();
    }

    // Syncs go on meanwhile: a member added everywhere reaches the namespaces that stay, and
    // the operator creates nothing in the terminating ones (the API server would refuse it).
    for (const ns of [...Object.values(doomed), ...Object.values(stays)]) {
      await h.admin.addMember(`${PARENT}.${ns}`, 'viewers', 'user.bob');
    }
    for (const ns of Object.values(stays)) {
      await h.cluster.waitForSubjects(ns, 'athenz.viewers.view', ['user.alice', 'user.bob']);
    }
    for (const mapping of ['ns-retain', 'ns-delete'] as const) {
      await settled(mapping);
      expect(await h.cluster.getRoleBinding(doomed[mapping], 'athenz.viewers.view')).toBeUndefined();
      // The namespace still exists: its subdomain is there whatever the policy.
      expect(await h.admin.getDomain(`${PARENT}.${doomed[mapping]}`)).toBeDefined();
    }

    for (const ns of Object.values(doomed)) await release(ns);
    for (const ns of Object.values(doomed)) {
      await waitFor(
        `namespace ${ns} to go by itself`,
        () => gone(h.cluster.core.readNamespace({ name: ns })),
        {
          timeoutMs: 30_000,
        },
      );
    }
    await waitFor(
      'the subdomain of the namespace deleted under onNamespaceDelete: Delete to be deleted',
      async () => (await h.admin.getDomain(`${PARENT}.${doomed['ns-delete']}`)) === undefined,
    );
    await op.waitForLog({
      message: 'deleted Athenz domain of deleted namespace',
      namespace: doomed['ns-delete'],
    });
    expect(await h.admin.getDomain(`${PARENT}.${doomed['ns-retain']}`)).toBeDefined();
    for (const mapping of ['ns-retain', 'ns-delete'] as const) {
      expect(await h.admin.getDomain(`${PARENT}.${stays[mapping]}`)).toBeDefined();
      await settled(mapping);
    }
    expect(errorLogs()).toEqual([]);
  });
});

describe('deleting a mapping', () => {
  /** The managed RoleBindings of `mapping`, in every namespace. */
  const bindingsOf = async (mapping: string) =>
    (
      await h.cluster.rbac.listRoleBindingForAllNamespaces({
        labelSelector: `rbac.athenz.io/mapping=${mapping}`,
      })
    ).items;
  /** Everything in the cluster that names `uid` as its owner. */
  const dependentsOf = async (uid: string) => {
    const [bindings, configMaps] = await Promise.all([
      h.cluster.rbac.listRoleBindingForAllNamespaces(),
      h.cluster.core.listConfigMapForAllNamespaces(),
    ]);
    return [...bindings.items, ...configMaps.items]
      .filter((o) => o.metadata?.ownerReferences?.some((r) => r.uid === uid))
      .map((o) => `${o.metadata?.namespace}/${o.metadata?.name}`);
  };

  async function mappingWithBindings(name: string) {
    await h.cluster.createMapping(name, {
      parentDomain: PARENT,
      ...selecting(name),
      roles: ROLES,
      syncInterval: '2s',
    });
    for (const ns of [`${name}-1`, `${name}-2`])
      await h.cluster.createNamespace(ns, { 'test/mapping': name });
    for (const ns of [`${name}-1`, `${name}-2`]) {
      for (const r of ROLES)
        await h.cluster.waitForSubjects(ns, `athenz.${r.athenzRole}.${r.clusterRole}`, []);
    }
    const mapping = await h.cluster.getMapping(name);
    return mapping!.metadata.uid;
  }

  it('removes its bindings through its finalizer, leaving the garbage collector nothing of its own', async () => {
    const uid = await mappingWithBindings('owned');
    const bindings = await bindingsOf('owned');
    expect(bindings).toHaveLength(6);
    for (const rb of bindings) {
      expect(rb.metadata?.ownerReferences).toEqual([
        {
          apiVersion: 'rbac.athenz.io/v1alpha1',
          kind: 'AthenzRoleMapping',
          name: 'owned',
          uid,
          controller: true,
          blockOwnerDeletion: true,
        },
      ]);
    }
    // A witness carrying exactly the operator's owner reference: the garbage collector resolves
    // it to the mapping and collects the witness when the mapping goes. A reference it could not
    // resolve (wrong apiVersion, kind or uid) would leave the witness behind, or collect it early.
    const reference = bindings[0]!.metadata!.ownerReferences![0]!;
    await h.cluster.core.createNamespacedConfigMap({
      namespace: 'owned-1',
      body: { metadata: { name: 'witness', ownerReferences: [{ ...reference, blockOwnerDeletion: false }] } },
    });

    await h.cluster.deleteMapping('owned');
    await waitFor('the mapping to be gone', async () => (await h.cluster.getMapping('owned')) === undefined);
    // Gone before the mapping went (the finalizer), not collected after it.
    expect(await bindingsOf('owned')).toEqual([]);
    await waitFor(
      'the garbage collector to collect the witness',
      () => gone(h.cluster.core.readNamespacedConfigMap({ namespace: 'owned-1', name: 'witness' })),
      { timeoutMs: 30_000 },
    );
    expect(await dependentsOf(uid)).toEqual([]);
    expect(errorLogs()).toEqual([]);
  });

  it('ends cleanly with foreground cascading deletion (kubectl delete --cascade=foreground)', async () => {
    const uid = await mappingWithBindings('cascade');
    const { stdout } = await run(
      join(h.plane.assetsDir, 'kubectl'),
      ['delete', 'athenzrolemapping', 'cascade', '--cascade=foreground', '--timeout=60s'],
      { env: { ...process.env, KUBECONFIG: h.plane.kubeconfigPath } },
    );
    expect(stdout).toContain('athenzrolemapping.rbac.athenz.io "cascade" deleted');
    // kubectl waited for the mapping to go: the garbage collector's foregroundDeletion
    // finalizer and the operator's cleanup finalizer were both removed.
    expect(await h.cluster.getMapping('cascade')).toBeUndefined();
    expect(await bindingsOf('cascade')).toEqual([]);
    expect(await dependentsOf(uid)).toEqual([]);
    for (const ns of ['cascade-1', 'cascade-2']) {
      expect((await h.cluster.core.readNamespace({ name: ns })).status?.phase).toBe('Active');
    }
    expect(errorLogs()).toEqual([]);
  });
});
