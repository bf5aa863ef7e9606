import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as k8s from '@kubernetes/client-node';
import { waitFor } from './wait.ts';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const CRD_PATH = join(REPO_ROOT, 'crds/rbac.athenz.io_athenzrolemappings.yaml');

/** Installs the project's CRD and waits until the API server serves it. */
export async function installCrd(kubeConfig: k8s.KubeConfig): Promise<void> {
  const api = kubeConfig.makeApiClient(k8s.ApiextensionsV1Api);
  const crd = k8s.loadYaml<k8s.V1CustomResourceDefinition>(readFileSync(CRD_PATH, 'utf8'));
  await api.createCustomResourceDefinition({ body: crd });
  await waitFor('the AthenzRoleMapping CRD to be established', async () => {
    const got = await api.readCustomResourceDefinition({ name: crd.metadata!.name! });
    return got.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True');
  });
  // Established comes a moment before the storage serves lists (429 "storage is initializing").
  const custom = kubeConfig.makeApiClient(k8s.CustomObjectsApi);
  await waitFor('the AthenzRoleMapping storage to serve lists', async () => {
    await custom.listClusterCustomObject({
      group: 'rbac.athenz.io',
      version: 'v1alpha1',
      plural: 'athenzrolemappings',
    });
    return true;
  });
}

export interface MappingBody {
  parentDomain: string;
  roles: Array<{ athenzRole: string; clusterRole: string }>;
  [field: string]: unknown;
}

/** A namespace selector matching the label `test/mapping=<value>`, one per test scenario. */
export function selecting(value: string) {
  return { namespaceSelector: { matchLabels: { 'test/mapping': value } } };
}

/** The most common role list in the tests: Athenz role `viewers` bound to `view`. */
export const VIEWERS = [{ athenzRole: 'viewers', clusterRole: 'view' }];

export function mappingObject(name: string, spec: MappingBody) {
  return { apiVersion: 'rbac.athenz.io/v1alpha1', kind: 'AthenzRoleMapping', metadata: { name }, spec };
}

/** Typed shortcuts to the objects the tests create and read. */
export class Cluster {
  readonly core: k8s.CoreV1Api;
  readonly rbac: k8s.RbacAuthorizationV1Api;
  readonly custom: k8s.CustomObjectsApi;

  constructor(kubeConfig: k8s.KubeConfig) {
    this.core = kubeConfig.makeApiClient(k8s.CoreV1Api);
    this.rbac = kubeConfig.makeApiClient(k8s.RbacAuthorizationV1Api);
    this.custom = kubeConfig.makeApiClient(k8s.CustomObjectsApi);
  }

  createNamespace(name: string, labels: Record<string, string> = {}) {
    return this.core.createNamespace({ body: { metadata: { name, labels } } });
  }

  labelNamespace(name: string, labels: Record<string, string | null>) {
    return this.core.patchNamespace(
      { name, body: { metadata: { labels } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
  }

  createMapping(name: string, spec: MappingBody) {
    return this.custom.createClusterCustomObject({
      group: 'rbac.athenz.io',
      version: 'v1alpha1',
      plural: 'athenzrolemappings',
      body: mappingObject(name, spec),
    });
  }

  patchMappingSpec(name: string, spec: Partial<MappingBody>) {
    return this.custom.patchClusterCustomObject(
      { group: 'rbac.athenz.io', version: 'v1alpha1', plural: 'athenzrolemappings', name, body: { spec } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
  }

  async getMapping(name: string): Promise<MappingResource | undefined> {
    try {
      return (await this.custom.getClusterCustomObject({
        group: 'rbac.athenz.io',
        version: 'v1alpha1',
        plural: 'athenzrolemappings',
        name,
      })) as MappingResource;
    } catch (err) {
      if ((err as { code?: number }).code === 404) return undefined;
      throw err;
    }
  }

  deleteMapping(name: string) {
    return this.custom.deleteClusterCustomObject({
      group: 'rbac.athenz.io',
      version: 'v1alpha1',
      plural: 'athenzrolemappings',
      name,
    });
  }

  async getRoleBinding(namespace: string, name: string): Promise<k8s.V1RoleBinding | undefined> {
    try {
      return await this.rbac.readNamespacedRoleBinding({ namespace, name });
    } catch (err) {
      if ((err as { code?: number }).code === 404) return undefined;
      throw err;
    }
  }

  /** Subject names of a RoleBinding, or undefined when it does not exist. */
  async subjectsOf(namespace: string, name: string): Promise<string[] | undefined> {
    const rb = await this.getRoleBinding(namespace, name);
    return rb ? (rb.subjects ?? []).map((s) => s.name) : undefined;
  }

  /** Waits until the RoleBinding's subjects are exactly `expected` (sorted). */
  async waitForSubjects(
    namespace: string,
    name: string,
    expected: string[],
    timeoutMs = 10_000,
  ): Promise<void> {
    let seen: string[] | undefined;
    await waitFor(
      `RoleBinding ${namespace}/${name} to have subjects [${expected.join(', ')}]`,
      async () => {
        seen = await this.subjectsOf(namespace, name);
        return JSON.stringify(seen) === JSON.stringify(expected);
      },
      { timeoutMs, observed: () => seen ?? 'no RoleBinding' },
    );
  }

  async waitForCondition(mapping: string, type: string, status: string, reason?: string, timeoutMs = 10_000) {
    let seen: unknown;
    return waitFor(
      `mapping ${mapping} condition ${type}=${status}${reason ? ` (${reason})` : ''}`,
      async () => {
        const m = await this.getMapping(mapping);
        const c = m?.status?.conditions?.find((x) => x.type === type);
        seen = c ?? m?.status;
        return c && c.status === status && (!reason || c.reason === reason) ? m : undefined;
      },
      { timeoutMs, observed: () => seen },
    );
  }
}

export interface MappingResource {
  metadata: { name: string; uid: string; generation: number; finalizers?: string[] };
  spec: Record<string, unknown>;
  status?: {
    observedGeneration?: number;
    mode?: string;
    namespacesSynced?: string;
    subjects?: number;
    lastSyncTime?: string;
    namespaces?: { selected: number; synced: number; failed: number };
    failures?: Array<{ namespace: string; reason: string; message: string }>;
    plannedChanges?: Array<{ action: string; namespace: string; target: string; subject?: string }>;
    conditions?: Array<{
      type: string;
      status: string;
      reason: string;
      message: string;
      observedGeneration: number;
    }>;
  };
}
