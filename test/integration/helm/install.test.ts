import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { mappingObject } from '../../support/cluster-fixtures.ts';
import { type ControlPlane, startControlPlane } from '../../support/control-plane/control-plane.ts';
import { CHART_DIR, expectSuccess, helm, scratchDir, valuesFile } from '../../support/helm.ts';
import { makeTestPki } from '../../support/pki.ts';
import { waitFor } from '../../support/wait.ts';

/**
 * `helm install` into a real control plane creates what the operator needs, and the CRD's life
 * cycle is the documented one: `helm upgrade` changes it with the chart, `helm uninstall` keeps
 * it (and every AthenzRoleMapping), and a later install of the same release adopts it again.
 * (The test control plane runs no workload controllers: the Deployment is stored, no Pod starts.)
 */
const NAMESPACE = 'athenz-rbac-system';
const RELEASE = 'athenz-rbac-operator';
const CRD = 'athenzrolemappings.rbac.athenz.io';
const ZMS_URL = 'https://zms.athenz.example.com:4443/zms/v1';

let plane: ControlPlane;
let core: k8s.CoreV1Api;
let apps: k8s.AppsV1Api;
let rbac: k8s.RbacAuthorizationV1Api;
let crds: k8s.ApiextensionsV1Api;
let custom: k8s.CustomObjectsApi;
const scratch = scratchDir('helm-install-');
const values = valuesFile(scratch, {
  zms: { url: ZMS_URL, clientCertSecret: 'zms-client', caSecret: 'zms-ca' },
});

const helmIn = (args: string[]) =>
  helm([...args, '--namespace', NAMESPACE], { kubeconfig: plane.kubeconfigPath });
const exists = (read: Promise<unknown>) =>
  read.then(
    () => true,
    (err: { code?: number }) => {
      if (err.code === 404) return false;
      throw err;
    },
  );
const readCrd = () => crds.readCustomResourceDefinition({ name: CRD });

beforeAll(async () => {
  plane = await startControlPlane();
  core = plane.kubeConfig.makeApiClient(k8s.CoreV1Api);
  apps = plane.kubeConfig.makeApiClient(k8s.AppsV1Api);
  rbac = plane.kubeConfig.makeApiClient(k8s.RbacAuthorizationV1Api);
  crds = plane.kubeConfig.makeApiClient(k8s.ApiextensionsV1Api);
  custom = plane.kubeConfig.makeApiClient(k8s.CustomObjectsApi);
  await core.createNamespace({ body: { metadata: { name: NAMESPACE } } });
  const pki = await makeTestPki();
  const client = await pki.issueClientCert('athenz.k8s.operator');
  await core.createNamespacedSecret({
    namespace: NAMESPACE,
    body: {
      metadata: { name: 'zms-client' },
      type: 'kubernetes.io/tls',
      stringData: { 'tls.crt': client.certPem, 'tls.key': client.keyPem },
    },
  });
  await core.createNamespacedSecret({
    namespace: NAMESPACE,
    body: { metadata: { name: 'zms-ca' }, stringData: { 'ca.crt': pki.caPem } },
  });
}, 60_000);
afterAll(async () => {
  await plane?.stop();
});

describe('helm install on a real control plane', () => {
  it('installs the Deployment, ServiceAccount, RBAC, metrics Service, PDB and the CRD', async () => {
    const installed = expectSuccess(
      await helmIn(['install', RELEASE, CHART_DIR, '--values', values]),
      'helm install',
    );
    expect(installed.stdout).toContain('STATUS: deployed');
    expect(installed.stdout).toContain(`athenz-rbac-operator 0.1.0 is installed in namespace ${NAMESPACE}`);

    const deployment = await apps.readNamespacedDeployment({ name: RELEASE, namespace: NAMESPACE });
    expect(deployment.spec?.replicas).toBe(2);
    const pod = deployment.spec!.template.spec!;
    expect(pod.serviceAccountName).toBe(RELEASE);
    expect(pod.containers[0]?.args).toContain(`--zms-url=${ZMS_URL}`);
    expect(pod.volumes?.map((v) => [v.name, v.secret?.secretName, v.secret?.defaultMode])).toEqual([
      ['zms-client', 'zms-client', 0o440],
      ['zms-ca', 'zms-ca', 0o440],
    ]);

    const account = await core.readNamespacedServiceAccount({ name: RELEASE, namespace: NAMESPACE });
    expect(account.metadata?.labels?.['app.kubernetes.io/managed-by']).toBe('Helm');
    const clusterRole = await rbac.readClusterRole({ name: RELEASE });
    expect(clusterRole.rules?.find((r) => r.verbs.includes('bind'))?.resourceNames).toEqual([
      'admin',
      'edit',
      'view',
    ]);
    const clusterBinding = await rbac.readClusterRoleBinding({ name: RELEASE });
    expect(clusterBinding.subjects).toEqual([
      { kind: 'ServiceAccount', name: RELEASE, namespace: NAMESPACE },
    ]);
    const role = await rbac.readNamespacedRole({ name: RELEASE, namespace: NAMESPACE });
    expect(role.rules?.map((r) => r.resources?.[0])).toEqual(['leases', 'leases']);
    const binding = await rbac.readNamespacedRoleBinding({ name: RELEASE, namespace: NAMESPACE });
    expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: RELEASE });
    const eventsRole = await rbac.readNamespacedRole({ name: `${RELEASE}-events`, namespace: 'default' });
    expect(eventsRole.rules?.map((r) => r.resources?.[0])).toEqual(['events']);
    const eventsBinding = await rbac.readNamespacedRoleBinding({
      name: `${RELEASE}-events`,
      namespace: 'default',
    });
    expect(eventsBinding.subjects).toEqual([{ kind: 'ServiceAccount', name: RELEASE, namespace: NAMESPACE }]);
    const service = await core.readNamespacedService({ name: `${RELEASE}-metrics`, namespace: NAMESPACE });
    expect(service.spec?.ports?.[0]).toMatchObject({ name: 'metrics', port: 8080, targetPort: 'metrics' });
    const policy = plane.kubeConfig.makeApiClient(k8s.PolicyV1Api);
    const pdb = await policy.readNamespacedPodDisruptionBudget({ name: RELEASE, namespace: NAMESPACE });
    expect(pdb.spec?.minAvailable).toBe(1);

    const crd = await waitFor('the CRD to be established', async () => {
      const got = await readCrd();
      return got.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') && got;
    });
    expect(crd.metadata?.annotations?.['helm.sh/resource-policy']).toBe('keep');
    expect(crd.metadata?.annotations?.['meta.helm.sh/release-name']).toBe(RELEASE);
    // The API now serves mappings.
    await custom.createClusterCustomObject({
      group: 'rbac.athenz.io',
      version: 'v1alpha1',
      plural: 'athenzrolemappings',
      body: mappingObject('survivor', {
        parentDomain: 'eks.users',
        roles: [{ athenzRole: 'viewers', clusterRole: 'view' }],
      }),
    });
  });

  it('helm upgrade changes the CRD with the chart, in either direction', async () => {
    // An "other chart version": the same chart with an older CRD (no spec.dryRun, version 0).
    const older = join(scratch, 'older-chart');
    cpSync(CHART_DIR, older, { recursive: true });
    const crdTemplate = join(older, 'templates/crd.yaml');
    const current = readFileSync(crdTemplate, 'utf8');
    const dryRunField = /\n {16}dryRun:\n {18}type: boolean\n {18}default: false\n {18}description: [^\n]*/;
    expect(current).toMatch(dryRunField);
    expect(current).toContain('rbac.athenz.io/crd-version: "1"');
    writeFileSync(
      crdTemplate,
      current
        .replace(dryRunField, '')
        .replace('rbac.athenz.io/crd-version: "1"', 'rbac.athenz.io/crd-version: "0"'),
    );
    const specProperties = async () =>
      Object.keys(
        (await readCrd()).spec.versions[0]?.schema?.openAPIV3Schema?.properties?.spec?.properties ?? {},
      );

    expectSuccess(await helmIn(['upgrade', RELEASE, older, '--values', values]), 'helm upgrade (older CRD)');
    expect((await readCrd()).metadata?.annotations?.['rbac.athenz.io/crd-version']).toBe('0');
    expect(await specProperties()).not.toContain('dryRun');

    expectSuccess(
      await helmIn(['upgrade', RELEASE, CHART_DIR, '--values', values]),
      'helm upgrade (this chart)',
    );
    expect((await readCrd()).metadata?.annotations?.['rbac.athenz.io/crd-version']).toBe('1');
    expect(await specProperties()).toContain('dryRun');
  });

  it('helm uninstall keeps the CRD and the mappings; installing again adopts the kept CRD', async () => {
    const uninstalled = expectSuccess(await helmIn(['uninstall', RELEASE]), 'helm uninstall');
    expect(uninstalled.stdout).toContain(
      `These resources were kept due to the resource policy:\n[CustomResourceDefinition] ${CRD}`,
    );
    expect(await exists(apps.readNamespacedDeployment({ name: RELEASE, namespace: NAMESPACE }))).toBe(false);
    expect(await exists(rbac.readClusterRole({ name: RELEASE }))).toBe(false);
    expect(await exists(readCrd())).toBe(true);
    const survivor = (await custom.getClusterCustomObject({
      group: 'rbac.athenz.io',
      version: 'v1alpha1',
      plural: 'athenzrolemappings',
      name: 'survivor',
    })) as { spec: { parentDomain: string } };
    expect(survivor.spec.parentDomain).toBe('eks.users');

    expectSuccess(await helmIn(['install', RELEASE, CHART_DIR, '--values', values]), 'helm install again');
    expect(await exists(apps.readNamespacedDeployment({ name: RELEASE, namespace: NAMESPACE }))).toBe(true);
  });

  it('the CRD belongs to one release: another is refused unless it sets crds.install=false', async () => {
    const other = 'other-operators';
    await core.createNamespace({ body: { metadata: { name: other } } });
    const asOther = (args: string[]) =>
      helm([...args, '--namespace', other, '--values', values], { kubeconfig: plane.kubeconfigPath });
    const refused = await asOther(['install', 'second', CHART_DIR]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(
      `CustomResourceDefinition "${CRD}" in namespace "" exists and cannot be imported into the current release: invalid ownership metadata`,
    );
    const beside = await asOther(['install', 'second', CHART_DIR, '--set', 'crds.install=false']);
    expect(beside.stderr).toBe('');
    expect(beside.stdout).toContain('crds.install=false: install and upgrade the CRD yourself');
    expect((await readCrd()).metadata?.annotations?.['meta.helm.sh/release-name']).toBe(RELEASE);
  });
});
