import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { type ControlPlane, startControlPlane } from '../../support/control-plane/control-plane.ts';
import { waitFor } from '../../support/wait.ts';

const run = promisify(execFile);
let plane: ControlPlane;

beforeAll(async () => {
  plane = await startControlPlane();
}, 90_000);
afterAll(async () => plane?.stop());

describe('the test control plane', () => {
  it('serves the Kubernetes API to the admin kubeconfig', async () => {
    const core = plane.kubeConfig.makeApiClient(k8s.CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: 'cp-admin' } } });
    const ns = await core.readNamespace({ name: 'cp-admin' });
    expect(ns.status?.phase).toBe('Active');
  });

  it('answers the pinned kubectl with the admin kubeconfig file', async () => {
    const { stdout } = await run(
      join(plane.assetsDir, 'kubectl'),
      ['get', 'namespace', 'default', '-o', 'name'],
      {
        env: { ...process.env, KUBECONFIG: plane.kubeconfigPath },
      },
    );
    expect(stdout.trim()).toBe('namespace/default');
  });

  it('authorizes a minted ServiceAccount token with real RBAC', async () => {
    const core = plane.kubeConfig.makeApiClient(k8s.CoreV1Api);
    const rbac = plane.kubeConfig.makeApiClient(k8s.RbacAuthorizationV1Api);
    await core.createNamespace({ body: { metadata: { name: 'cp-rbac' } } });
    const token = await plane.mintToken('cp-rbac', 'reader');
    const asReader = plane.kubeConfigForToken(token);
    const readerCore = asReader.kubeConfig.makeApiClient(k8s.CoreV1Api);

    await expect(readerCore.listNamespacedConfigMap({ namespace: 'cp-rbac' })).rejects.toMatchObject({
      code: 403,
    });

    // `view` itself: kube-controller-manager aggregates its rules from the system:aggregate-to-view roles.
    await rbac.createNamespacedRoleBinding({
      namespace: 'cp-rbac',
      body: {
        metadata: { name: 'reader-view' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' },
        subjects: [{ kind: 'ServiceAccount', name: 'reader', namespace: 'cp-rbac' }],
      },
    });
    const kubectl = (args: string[]) =>
      run(join(plane.assetsDir, 'kubectl'), args, {
        env: { ...process.env, KUBECONFIG: asReader.kubeconfigPath },
      })
        .then((r) => r.stdout.trim())
        .catch((e: { stdout: string; stderr: string }) => e.stdout.trim() || e.stderr.trim());
    // The RBAC authorizer reads bindings from a cache: the new one shows up within moments.
    await waitFor('the view binding to take effect', async () =>
      (await kubectl(['auth', 'can-i', 'list', 'configmaps', '-n', 'cp-rbac'])) === 'yes' ? true : undefined,
    );
    expect(await kubectl(['auth', 'can-i', 'delete', 'configmaps', '-n', 'cp-rbac'])).toBe('no');
    expect(await kubectl(['auth', 'can-i', 'list', 'secrets', '-n', 'cp-rbac'])).toBe('no');
    expect(await kubectl(['auth', 'can-i', 'list', 'configmaps', '-n', 'default'])).toBe('no');
  });

  it('aggregates admin, edit and view from the system:aggregate-to-* roles, and keeps them current', async () => {
    const rbac = plane.kubeConfig.makeApiClient(k8s.RbacAuthorizationV1Api);
    const rules = async (name: string) => (await rbac.readClusterRole({ name })).rules ?? [];
    const grants = (list: k8s.V1PolicyRule[], resource: string, verb: string) =>
      list.some((r) => r.resources?.includes(resource) && r.verbs.includes(verb));
    expect(grants(await rules('view'), 'configmaps', 'list')).toBe(true);
    expect(grants(await rules('view'), 'configmaps', 'delete')).toBe(false);
    expect(grants(await rules('edit'), 'configmaps', 'delete')).toBe(true);
    expect(grants(await rules('admin'), 'rolebindings', 'create')).toBe(true);
    // A ClusterRole that a CRD's chart would add: its rules join `view` within moments.
    await rbac.createClusterRole({
      body: {
        metadata: {
          name: 'cp-widgets-view',
          labels: { 'rbac.authorization.k8s.io/aggregate-to-view': 'true' },
        },
        rules: [{ apiGroups: ['example.com'], resources: ['widgets'], verbs: ['get', 'list'] }],
      },
    });
    await waitFor('view to aggregate the widgets rule', async () =>
      grants(await rules('view'), 'widgets', 'list'),
    );
  });

  it('gives each new namespace its default ServiceAccount and kube-root-ca.crt', async () => {
    const core = plane.kubeConfig.makeApiClient(k8s.CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: 'cp-defaults' } } });
    await waitFor('the default ServiceAccount', () =>
      core.readNamespacedServiceAccount({ namespace: 'cp-defaults', name: 'default' }),
    );
    const ca = await waitFor('kube-root-ca.crt', () =>
      core.readNamespacedConfigMap({ namespace: 'cp-defaults', name: 'kube-root-ca.crt' }),
    );
    expect(ca.data?.['ca.crt']).toContain('BEGIN CERTIFICATE');
  });

  it('deletes a namespace with its content by itself, as `kubectl delete namespace` does', async () => {
    const core = plane.kubeConfig.makeApiClient(k8s.CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: 'cp-doomed' } } });
    await core.createNamespacedConfigMap({ namespace: 'cp-doomed', body: { metadata: { name: 'content' } } });
    const kubectl = join(plane.assetsDir, 'kubectl');
    // kubectl waits until the namespace is gone (its default --wait=true).
    const { stdout } = await run(kubectl, ['delete', 'namespace', 'cp-doomed', '--timeout=60s'], {
      env: { ...process.env, KUBECONFIG: plane.kubeconfigPath },
    });
    expect(stdout).toContain('namespace "cp-doomed" deleted');
    await expect(core.readNamespace({ name: 'cp-doomed' })).rejects.toMatchObject({ code: 404 });
  });

  it('collects the dependents of a deleted owner', async () => {
    const core = plane.kubeConfig.makeApiClient(k8s.CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: 'cp-gc' } } });
    const owner = await core.createNamespacedConfigMap({
      namespace: 'cp-gc',
      body: { metadata: { name: 'owner' } },
    });
    await core.createNamespacedConfigMap({
      namespace: 'cp-gc',
      body: {
        metadata: {
          name: 'dependent',
          ownerReferences: [
            { apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: owner.metadata!.uid! },
          ],
        },
      },
    });
    await core.deleteNamespacedConfigMap({ namespace: 'cp-gc', name: 'owner' });
    await waitFor('the dependent to be collected', () =>
      core.readNamespacedConfigMap({ namespace: 'cp-gc', name: 'dependent' }).then(
        () => false,
        (e: { code?: number }) => e.code === 404,
      ),
    );
  });

  it('removes its processes and files on stop', async () => {
    const second = await startControlPlane();
    const { workdir } = second;
    const pids = (await run('cat', [join(workdir, 'children.pids')])).stdout.trim().split('\n').map(Number);
    await second.stop();
    expect(existsSync(workdir)).toBe(false);
    for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
  }, 90_000);
});
