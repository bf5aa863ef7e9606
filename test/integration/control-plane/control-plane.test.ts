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

    // Not `view`: with no kube-controller-manager, aggregated ClusterRoles keep empty rules.
    await rbac.createClusterRole({
      body: {
        metadata: { name: 'cp-configmap-reader' },
        rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list'] }],
      },
    });
    await rbac.createNamespacedRoleBinding({
      namespace: 'cp-rbac',
      body: {
        metadata: { name: 'reader-configmaps' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cp-configmap-reader' },
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
