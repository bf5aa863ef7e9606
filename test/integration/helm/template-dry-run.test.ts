import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { EVENTS_NAMESPACE } from '../../../src/kube/kube-writer.ts';
import { type ControlPlane, startControlPlane } from '../../support/control-plane/control-plane.ts';
import {
  CHART_DIR,
  expectSuccess,
  find,
  kubectl,
  type Manifest,
  REQUIRED_VALUES,
  render,
  template,
} from '../../support/helm.ts';

/**
 * What `helm template` renders is accepted by a real API server (server-side dry-run with strict
 * field validation), and says what the operator needs: its flags, downward-API identity, a
 * hardened Pod, and RBAC limited to the calls the operator makes.
 */
const NAMESPACE = 'athenz-rbac-system';
let plane: ControlPlane;

beforeAll(async () => {
  plane = await startControlPlane();
  await plane.kubeConfig
    .makeApiClient(k8s.CoreV1Api)
    .createNamespace({ body: { metadata: { name: NAMESPACE } } });
}, 60_000);
afterAll(async () => {
  await plane?.stop();
});

async function dryRun(values: unknown) {
  const rendered = expectSuccess(await template(values, { namespace: NAMESPACE }), 'helm template');
  return kubectl(['apply', '--server-side', '--dry-run=server', '--field-manager=helm-test', '-f', '-'], {
    kubeconfig: plane.kubeconfigPath,
    input: rendered.stdout,
  });
}

type Container = k8s.V1Container;
const containerOf = (objects: Manifest[]) =>
  find<k8s.V1Deployment>(objects, 'Deployment').spec!.template.spec!.containers[0] as Container;

describe('helm template against a real API server', () => {
  it('applies with server-side dry-run: defaults with the required values', async () => {
    const result = await dryRun(REQUIRED_VALUES);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const applied = result.stdout.trim().split('\n').sort();
    expect(applied).toEqual(
      [
        'clusterrole.rbac.authorization.k8s.io/rel-athenz-rbac-operator serverside-applied (server dry run)',
        'clusterrolebinding.rbac.authorization.k8s.io/rel-athenz-rbac-operator serverside-applied (server dry run)',
        'customresourcedefinition.apiextensions.k8s.io/athenzrolemappings.rbac.athenz.io serverside-applied (server dry run)',
        'deployment.apps/rel-athenz-rbac-operator serverside-applied (server dry run)',
        'poddisruptionbudget.policy/rel-athenz-rbac-operator serverside-applied (server dry run)',
        'role.rbac.authorization.k8s.io/rel-athenz-rbac-operator serverside-applied (server dry run)',
        'role.rbac.authorization.k8s.io/rel-athenz-rbac-operator-events serverside-applied (server dry run)',
        'rolebinding.rbac.authorization.k8s.io/rel-athenz-rbac-operator serverside-applied (server dry run)',
        'rolebinding.rbac.authorization.k8s.io/rel-athenz-rbac-operator-events serverside-applied (server dry run)',
        'service/rel-athenz-rbac-operator-metrics serverside-applied (server dry run)',
        'serviceaccount/rel-athenz-rbac-operator serverside-applied (server dry run)',
      ].sort(),
    );
  });

  it('applies with every optional feature on, except the ServiceMonitor (no prometheus-operator here)', async () => {
    const full = k8s.loadYaml<Record<string, Record<string, unknown>>>(
      readFileSync(join(CHART_DIR, 'ci/full-values.yaml'), 'utf8'),
    );
    const values = { ...full, metrics: { serviceMonitor: { enabled: false } } };
    const result = await dryRun(values);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('deployment.apps/rel-athenz-rbac-operator serverside-applied');

    const withMonitor = await render(full);
    const monitor = find<{ spec: { endpoints: Array<{ port: string }> } }>(withMonitor, 'ServiceMonitor');
    expect(monitor.spec.endpoints[0]?.port).toBe('metrics');
  });

  it('a rejected field fails the dry-run (the check can fail)', async () => {
    const result = await dryRun({
      ...REQUIRED_VALUES,
      podSecurityContext: { runAsUser: 65532, notAField: 1 },
    });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(
      '.spec.template.spec.securityContext.notAField: field not declared in schema',
    );
  });

  it('passes the values to the flags the operator reads, and identity from the downward API', async () => {
    const objects = await render({
      ...REQUIRED_VALUES,
      allowedClusterRoles: ['admin', 'view', 'pod-reader'],
      excludedNamespaces: ['monitoring'],
      logLevel: 'debug',
      extraArgs: ['--workers=4'],
    });
    const container = containerOf(objects);
    expect(container.args).toEqual([
      '--zms-url=https://zms.example.com:4443/zms/v1',
      '--zms-cert=/var/run/secrets/athenz-rbac-operator/zms-client/tls.crt',
      '--zms-key=/var/run/secrets/athenz-rbac-operator/zms-client/tls.key',
      '--zms-ca=/etc/ssl/certs/ca-certificates.crt',
      '--zms-timeout=5s',
      '--zms-concurrency=8',
      '--allowed-cluster-roles=admin,view,pod-reader',
      '--excluded-namespaces=monitoring',
      '--workers=2',
      '--namespace-concurrency=8',
      '--resync-period=10m',
      '--shutdown-timeout=20s',
      '--health-addr=:8081',
      '--metrics-addr=:8080',
      '--leader-elect=true',
      '--lease-name=rel-athenz-rbac-operator',
      '--lease-duration=15s',
      '--renew-deadline=10s',
      '--retry-period=2s',
      '--log-level=debug',
      '--workers=4',
    ]);
    expect(container.command).toBeUndefined();
    expect(container.env).toEqual([
      { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
      { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    ]);
    expect(container.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'health' });
    expect(container.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'health' });
    expect(container.ports).toEqual([
      { name: 'health', containerPort: 8081, protocol: 'TCP' },
      { name: 'metrics', containerPort: 8080, protocol: 'TCP' },
    ]);
    // The client certificate Secret is mounted whole (no subPath), so a rotation reaches the file.
    expect(container.volumeMounts).toEqual([
      { name: 'zms-client', mountPath: '/var/run/secrets/athenz-rbac-operator/zms-client', readOnly: true },
    ]);
    expect(container.volumeMounts?.some((m) => m.subPath)).toBe(false);

    // allowedClusterRoles is also the only set of ClusterRoles the operator may `bind`.
    const clusterRole = find<k8s.V1ClusterRole>(objects, 'ClusterRole');
    const bind = clusterRole.rules?.find((r) => r.verbs.includes('bind'));
    expect(bind).toEqual({
      apiGroups: ['rbac.authorization.k8s.io'],
      resources: ['clusterroles'],
      verbs: ['bind'],
      resourceNames: ['admin', 'view', 'pod-reader'],
    });
  });

  it('runs a hardened Pod: non-root 65532, read-only root, no privilege escalation, no capabilities', async () => {
    const objects = await render(REQUIRED_VALUES);
    const deployment = find<k8s.V1Deployment>(objects, 'Deployment');
    const pod = deployment.spec!.template.spec!;
    expect(deployment.spec?.replicas).toBe(2);
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 65532,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(containerOf(objects).securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: 65532,
      runAsGroup: 65532,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      privileged: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    // 0440 written in decimal: YAML 1.1 (kubectl) and YAML 1.2 (this parser) read it the same.
    expect({ ...pod.volumes?.[0]?.secret }).toEqual({ secretName: 'zms-client', defaultMode: 0o440 });
    const pdb = find<k8s.V1PodDisruptionBudget>(objects, 'PodDisruptionBudget');
    expect(pdb.spec?.minAvailable).toBe(1);
    expect(pdb.spec?.selector).toEqual(deployment.spec?.selector);

    const single = await render({ ...REQUIRED_VALUES, replicas: 1 });
    expect(single.filter((o) => o.kind === 'PodDisruptionBudget')).toEqual([]);
  });

  it('grants exactly the calls the operator makes: no Secrets, the Lease at home, Events where it writes them', async () => {
    const objects = await render(REQUIRED_VALUES);
    expect(find<k8s.V1ClusterRole>(objects, 'ClusterRole').rules).toEqual([
      { apiGroups: [''], resources: ['namespaces'], verbs: ['get', 'list', 'watch'] },
      {
        apiGroups: ['rbac.authorization.k8s.io'],
        resources: ['rolebindings'],
        verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'],
      },
      {
        apiGroups: ['rbac.authorization.k8s.io'],
        resources: ['clusterroles'],
        verbs: ['bind'],
        resourceNames: ['admin', 'edit', 'view'],
      },
      {
        apiGroups: ['rbac.athenz.io'],
        resources: ['athenzrolemappings'],
        verbs: ['get', 'list', 'watch', 'update', 'patch'],
      },
      {
        apiGroups: ['rbac.athenz.io'],
        resources: ['athenzrolemappings/status'],
        verbs: ['get', 'update', 'patch'],
      },
      { apiGroups: ['rbac.athenz.io'], resources: ['athenzrolemappings/finalizers'], verbs: ['update'] },
    ]);
    // The Lease in the release namespace, limited to its name.
    const lease = find<k8s.V1Role>(objects, 'Role', 'rel-athenz-rbac-operator');
    expect(lease.metadata?.namespace).toBe(NAMESPACE);
    expect(lease.rules).toEqual([
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
      {
        apiGroups: ['coordination.k8s.io'],
        resources: ['leases'],
        verbs: ['get', 'update'],
        resourceNames: ['rel-athenz-rbac-operator'],
      },
    ]);
    // Events only where the operator writes them (about a cluster-scoped mapping, the API server
    // takes them in `default` only).
    const events = find<k8s.V1Role>(objects, 'Role', 'rel-athenz-rbac-operator-events');
    expect(events.metadata?.namespace).toBe(EVENTS_NAMESPACE);
    expect(events.rules).toEqual([
      { apiGroups: ['events.k8s.io'], resources: ['events'], verbs: ['create', 'patch'] },
    ]);

    const account = { kind: 'ServiceAccount', name: 'rel-athenz-rbac-operator', namespace: NAMESPACE };
    const bindings = objects.filter((o) => o.kind === 'RoleBinding' || o.kind === 'ClusterRoleBinding');
    expect(
      bindings.map((b) => {
        const binding = b as unknown as k8s.V1RoleBinding;
        return [binding.kind, binding.metadata?.namespace, binding.roleRef.name, binding.subjects];
      }),
    ).toEqual([
      ['ClusterRoleBinding', undefined, 'rel-athenz-rbac-operator', [account]],
      ['RoleBinding', NAMESPACE, 'rel-athenz-rbac-operator', [account]],
      ['RoleBinding', EVENTS_NAMESPACE, 'rel-athenz-rbac-operator-events', [account]],
    ]);
    expect(JSON.stringify(objects.filter((o) => /Role/.test(o.kind ?? '')))).not.toMatch(/secrets|"\*"/);
  });
});
