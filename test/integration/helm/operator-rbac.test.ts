import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { EVENTS_NAMESPACE } from '../../../src/kube/kube-writer.ts';
import { Cluster } from '../../support/cluster-fixtures.ts';
import { type ControlPlane, startControlPlane } from '../../support/control-plane/control-plane.ts';
import {
  CHART_DIR,
  type DeploymentProcess,
  expectSuccess,
  helm,
  kubectl,
  runDeploymentAsProcess,
  scratchDir,
  valuesFile,
} from '../../support/helm.ts';
import { freePort } from '../../support/ports.ts';
import { WaitAborted, waitFor } from '../../support/wait.ts';
import { ZmsAdmin } from '../../support/zms-admin.ts';
import { startZmsServer, type ZmsServer } from '../../support/zms-server/server.ts';

/**
 * The proof that the chart's RBAC is enough and no more: the chart is installed, then the
 * operator runs as a process with the installed Deployment's flags and env, its Secrets as files,
 * and a token of the chart's ServiceAccount, so every Kubernetes call it makes is authorized by
 * exactly the chart's ClusterRole and Role. It syncs a mapping end to end against the ZMS test
 * server, elects itself leader on its Lease, records Events, and cleans up on delete, with no 403
 * anywhere. Then the API server itself refuses that ServiceAccount a ClusterRole outside
 * allowedClusterRoles.
 */
const NAMESPACE = 'athenz-rbac-system';
const RELEASE = 'athenz-rbac-operator';
const ATHENZ_ADMIN = 'user.athenz_admin';
const OPERATOR_PRINCIPAL = 'athenz.k8s.operator';
const PARENT = 'eks.users';
const SAMPLE = 'eks-users';
const SAMPLE_YAML = `
apiVersion: rbac.athenz.io/v1alpha1
kind: AthenzRoleMapping
metadata:
  name: ${SAMPLE}
spec:
  parentDomain: ${PARENT}
  namespaceSelector:
    matchLabels:
      athenz.io/sync: "true"
  roles:
    - athenzRole: k8s_ns_admins
      clusterRole: admin
    - athenzRole: k8s_ns_viewers
      clusterRole: view
  domain:
    adminUsers:
      - ${ATHENZ_ADMIN}
  syncInterval: 5s
`;
const READERS = 'pod-readers';

let plane: ControlPlane;
let zms: ZmsServer;
let admin: ZmsAdmin;
let cluster: Cluster;
let operator: DeploymentProcess;
let asOperator: k8s.KubeConfig;
let healthUrl: string;
let metricsUrl: string;
const workdir = scratchDir('helm-operator-');

beforeAll(async () => {
  [plane, zms] = await Promise.all([
    startControlPlane(),
    startZmsServer({ adminPrincipals: [ATHENZ_ADMIN] }),
  ]);
  cluster = new Cluster(plane.kubeConfig);
  admin = new ZmsAdmin(zms.url, zms.pki.caPem, await zms.pki.issueClientCert(ATHENZ_ADMIN));
  for (const domain of ['athenz', 'athenz.k8s', 'eks']) await admin.ensureDomain(domain, [ATHENZ_ADMIN]);
  await admin.ensureDomain(PARENT, [ATHENZ_ADMIN, OPERATOR_PRINCIPAL]);

  // Two more ClusterRoles with rules: one allowed in the chart's values, one outside them.
  for (const [name, resource] of [
    ['pod-reader', 'pods'],
    ['secret-reader', 'secrets'],
  ] as const) {
    await cluster.rbac.createClusterRole({
      body: {
        metadata: { name },
        rules: [{ apiGroups: [''], resources: [resource], verbs: ['get', 'list'] }],
      },
    });
  }

  await cluster.createNamespace(NAMESPACE);
  const cert = await zms.pki.issueClientCert(OPERATOR_PRINCIPAL);
  await cluster.core.createNamespacedSecret({
    namespace: NAMESPACE,
    body: {
      metadata: { name: 'zms-client' },
      type: 'kubernetes.io/tls',
      stringData: { 'tls.crt': cert.certPem, 'tls.key': cert.keyPem },
    },
  });
  await cluster.core.createNamespacedSecret({
    namespace: NAMESPACE,
    body: { metadata: { name: 'zms-ca' }, stringData: { 'ca.crt': zms.pki.caPem } },
  });

  const [healthPort, metricsPort] = [await freePort(), await freePort()];
  healthUrl = `http://127.0.0.1:${healthPort}`;
  metricsUrl = `http://127.0.0.1:${metricsPort}`;
  const values = valuesFile(workdir, {
    zms: { url: zms.url, clientCertSecret: 'zms-client', caSecret: 'zms-ca' },
    allowedClusterRoles: ['admin', 'edit', 'view', 'pod-reader'],
    health: { port: healthPort },
    metrics: { port: metricsPort },
    logLevel: 'debug',
  });
  expectSuccess(
    await helm(['install', RELEASE, CHART_DIR, '--namespace', NAMESPACE, '--values', values], {
      kubeconfig: plane.kubeconfigPath,
    }),
    'helm install',
  );

  // The chart's ServiceAccount, exactly: the token the kubelet would mount into the Pod.
  const token = await plane.mintToken(NAMESPACE, RELEASE);
  const forToken = plane.kubeConfigForToken(token);
  asOperator = forToken.kubeConfig;
  operator = await runDeploymentAsProcess(plane.kubeConfig, {
    namespace: NAMESPACE,
    name: RELEASE,
    kubeconfigPath: forToken.kubeconfigPath,
    workdir,
  });
  await waitFor(
    'the operator to be ready (caches synced, leading, first pass done)',
    async () => {
      if (operator.exitCode !== undefined) {
        throw new WaitAborted(`the operator exited ${operator.exitCode}: ${operator.output()}`);
      }
      const res = await fetch(`${healthUrl}/readyz`);
      return res.status === 200 && (await res.text()) === 'ok\n';
    },
    { timeoutMs: 20_000, observed: () => operator.output().slice(-1500) },
  );
}, 90_000);

afterAll(async () => {
  if (process.env.DEBUG_LOGS) console.log(operator?.output());
  await operator?.stop().catch(() => undefined);
  await admin?.close();
  await Promise.all([plane?.stop(), zms?.stop()]);
});

/** The RoleBinding of `athenzRole` in `namespace` (found by annotation, whatever its name), once
 * its subjects are exactly `expected`. */
async function waitForSubjects(namespace: string, athenzRole: string, expected: string[]) {
  let seen: unknown;
  return waitFor(
    `the RoleBinding of ${athenzRole} in ${namespace} to have subjects [${expected.join(', ')}]`,
    async () => {
      const list = await cluster.rbac.listNamespacedRoleBinding({ namespace });
      const rb = list.items.find(
        (b) => b.metadata?.annotations?.['rbac.athenz.io/athenz-role'] === athenzRole,
      );
      seen = rb?.subjects?.map((x) => x.name) ?? (rb ? [] : 'no RoleBinding');
      return rb && JSON.stringify(seen) === JSON.stringify(expected) ? rb : undefined;
    },
    { timeoutMs: 15_000, observed: () => seen },
  );
}

const forbidden = () =>
  operator
    .output()
    .split('\n')
    .filter((line) => /forbidden|\b403\b|unauthorized|\b401\b/i.test(line));

describe('the operator with exactly the chart RBAC', () => {
  it('leads on its Lease in the release namespace', async () => {
    const coordination = plane.kubeConfig.makeApiClient(k8s.CoordinationV1Api);
    const lease = await coordination.readNamespacedLease({ name: RELEASE, namespace: NAMESPACE });
    expect(lease.spec?.holderIdentity).toBe(operator.podName);
    expect(operator.logs).toEqual(
      expect.arrayContaining([expect.objectContaining({ message: 'acquired leader lease', lease: RELEASE })]),
    );
  });

  it('syncs the sample mapping end to end: labelled namespace, Athenz members, RoleBindings, Ready, Events', async () => {
    // The everyday mapping (as in samples/basic.yaml), applied as a user would:
    // k8s_ns_admins -> admin, k8s_ns_viewers -> view.
    const applied = await kubectl(['apply', '-f', '-'], {
      kubeconfig: plane.kubeconfigPath,
      input: SAMPLE_YAML,
    });
    expect(applied.stdout).toContain(`athenzrolemapping.rbac.athenz.io/${SAMPLE} created`);
    // admin, view (aggregated by kube-controller-manager) and pod-reader have real rules: only the
    // chart's `bind` permission lets the operator bind them, as it does not hold those rules itself.
    await cluster.createMapping(READERS, {
      parentDomain: PARENT,
      namespaceSelector: { matchLabels: { 'athenz.io/sync': 'true' } },
      roles: [{ athenzRole: 'k8s_pod_readers', clusterRole: 'pod-reader' }],
      domain: { adminUsers: [ATHENZ_ADMIN] },
      syncInterval: '2s',
    });
    await cluster.createNamespace('team-a');
    await cluster.labelNamespace('team-a', { 'athenz.io/sync': 'true' });
    await waitForSubjects('team-a', 'k8s_ns_viewers', []);

    await admin.addMember(`${PARENT}.team-a`, 'k8s_ns_viewers', 'user.alice');
    await admin.addMember(`${PARENT}.team-a`, 'k8s_pod_readers', 'user.bob');
    const viewers = await waitForSubjects('team-a', 'k8s_ns_viewers', ['user.alice']);
    expect(viewers.roleRef.name).toBe('view');
    const readers = await waitForSubjects('team-a', 'k8s_pod_readers', ['user.bob']);
    expect(readers.roleRef.name).toBe('pod-reader');
    expect((await waitForSubjects('team-a', 'k8s_ns_admins', [])).roleRef.name).toBe('admin');

    for (const name of [SAMPLE, READERS]) {
      const mapping = await cluster.waitForCondition(name, 'Ready', 'True', 'Synced');
      expect(mapping.status?.namespacesSynced).toBe('1/1');
      expect(mapping.metadata.finalizers).toEqual(['rbac.athenz.io/cleanup']);
    }

    const events = plane.kubeConfig.makeApiClient(k8s.EventsV1Api);
    const recorded = await waitFor(`an AccessChanged Event in ${EVENTS_NAMESPACE}`, async () => {
      const list = await events.listNamespacedEvent({ namespace: EVENTS_NAMESPACE });
      return list.items.find((e) => e.reason === 'AccessChanged' && e.note?.includes('user.alice'));
    });
    expect(recorded.regarding).toMatchObject({ kind: 'AthenzRoleMapping', name: SAMPLE });
    expect(recorded.reportingInstance).toBe(operator.podName);

    const metrics = await (await fetch(`${metricsUrl}/metrics`)).text();
    expect(metrics).toMatch(/controller_runtime_reconcile_total\{[^}]*result="success"[^}]*\} [1-9]/);
    expect(forbidden()).toEqual([]);
    expect(operator.logs.filter((e) => e.level === 'error')).toEqual([]);
  });

  it('picks up a rotated client certificate from its Secret without a restart', async () => {
    const rotated = await zms.pki.issueClientCert(OPERATOR_PRINCIPAL);
    await cluster.core.replaceNamespacedSecret({
      name: 'zms-client',
      namespace: NAMESPACE,
      body: {
        metadata: { name: 'zms-client' },
        type: 'kubernetes.io/tls',
        stringData: { 'tls.crt': rotated.certPem, 'tls.key': rotated.keyPem },
      },
    });
    await operator.syncSecretVolumes();
    await waitFor('the operator to reload its ZMS client certificate', () =>
      operator.logs.some((e) => e.message === 'ZMS client certificate reloaded'),
    );
    await admin.addMember(`${PARENT}.team-a`, 'k8s_ns_viewers', 'user.carol');
    await waitForSubjects('team-a', 'k8s_ns_viewers', ['user.alice', 'user.carol']);
    expect(operator.exitCode).toBeUndefined();
    expect(operator.logs.filter((e) => String(e.message).includes('certificate files unreadable'))).toEqual(
      [],
    );
  });

  it('reports a mapping naming a ClusterRole outside the allowed list, and binds nothing for it', async () => {
    await cluster.createMapping('sneaky', {
      parentDomain: PARENT,
      namespaceSelector: { matchLabels: { 'athenz.io/sync': 'sneaky' } },
      roles: [{ athenzRole: 'readers', clusterRole: 'secret-reader' }],
      syncInterval: '2s',
    });
    const mapping = await cluster.waitForCondition('sneaky', 'Ready', 'False', 'ClusterRoleNotAllowed');
    expect(mapping.status?.conditions?.find((c) => c.type === 'Ready')?.message).toContain('"secret-reader"');
    await cluster.deleteMapping('sneaky');
    await waitFor(
      'mapping sneaky to be gone',
      async () => (await cluster.getMapping('sneaky')) === undefined,
    );
  });

  it('removes its RoleBindings and its finalizers when the mappings are deleted', async () => {
    for (const name of [SAMPLE, READERS]) await cluster.deleteMapping(name);
    for (const name of [SAMPLE, READERS]) {
      await waitFor(
        `mapping ${name} to be deleted`,
        async () => (await cluster.getMapping(name)) === undefined,
        {
          timeoutMs: 15_000,
        },
      );
    }
    const left = await cluster.rbac.listNamespacedRoleBinding({ namespace: 'team-a' });
    expect(left.items.map((rb) => rb.metadata?.name)).toEqual([]);
    expect(forbidden()).toEqual([]);
  });

  it('is refused by the API server when it binds a ClusterRole outside allowedClusterRoles', async () => {
    const rbac = asOperator.makeApiClient(k8s.RbacAuthorizationV1Api);
    const binding = (name: string, clusterRole: string) => ({
      namespace: 'team-a',
      body: {
        metadata: { name },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: clusterRole },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'user.mallory' }],
      },
    });
    const refused = await rbac.createNamespacedRoleBinding(binding('escalate', 'secret-reader')).then(
      () => undefined,
      (err: { code?: number; body?: string }) => err,
    );
    expect(refused?.code).toBe(403);
    expect(refused?.body).toContain('is attempting to grant RBAC permissions not currently held');
    expect(refused?.body).toContain(
      '{APIGroups:[\\"\\"], Resources:[\\"secrets\\"], Verbs:[\\"get\\" \\"list\\"]}',
    );
    expect(await cluster.getRoleBinding('team-a', 'escalate')).toBeUndefined();

    // The same request for an allowed ClusterRole with real rules succeeds: the refusal above
    // comes from `bind`'s resourceNames, not from a missing create permission.
    const allowed = await rbac.createNamespacedRoleBinding(binding('allowed', 'pod-reader'));
    expect(allowed.roleRef.name).toBe('pod-reader');
  });

  it('has nothing more: no Secrets, no other Lease, no Events but in default', async () => {
    const core = asOperator.makeApiClient(k8s.CoreV1Api);
    const events = asOperator.makeApiClient(k8s.EventsV1Api);
    const coordination = asOperator.makeApiClient(k8s.CoordinationV1Api);
    const status = (call: Promise<unknown>) =>
      call.then(
        () => 200,
        (err: { code?: number }) => err.code,
      );
    expect(await status(core.listNamespacedSecret({ namespace: NAMESPACE }))).toBe(403);
    expect(await status(core.readNamespacedSecret({ name: 'zms-client', namespace: NAMESPACE }))).toBe(403);
    const event = (namespace: string) =>
      events.createNamespacedEvent({
        namespace,
        body: {
          metadata: { generateName: 'x-' },
          eventTime: new k8s.V1MicroTime(),
          reportingController: 'rbac.athenz.io/athenz-rbac-operator',
          reportingInstance: 'x',
          action: 'Test',
          reason: 'Test',
          type: 'Normal',
          regarding: { kind: 'Namespace', name: namespace, apiVersion: 'v1' },
        },
      });
    expect(await status(event('team-a'))).toBe(403);
    expect(await status(event(NAMESPACE))).toBe(403);
    expect(await status(coordination.readNamespacedLease({ name: 'other', namespace: NAMESPACE }))).toBe(403);
    expect(await status(core.listPodForAllNamespaces())).toBe(403);
    // ...while what it uses answers.
    expect(await status(core.listNamespace())).toBe(200);
  });

  it('shuts down on SIGTERM: exit 0, Lease released', async () => {
    const code = await operator.stop();
    expect(code).toBe(0);
    const coordination = plane.kubeConfig.makeApiClient(k8s.CoordinationV1Api);
    const lease = await coordination.readNamespacedLease({ name: RELEASE, namespace: NAMESPACE });
    expect(lease.spec?.holderIdentity ?? '').toBe('');
    expect(operator.logs.map((e) => e.message)).toEqual(
      expect.arrayContaining(['released leader lease', 'stopped']),
    );
    expect(forbidden()).toEqual([]);
  });
});
