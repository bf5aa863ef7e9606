import type * as k8s from '@kubernetes/client-node';
import { MANAGED_SELECTOR } from '../../src/core/labels.ts';
import type { Cluster } from '../../test/support/cluster-fixtures.ts';
import type { CounterSnapshot } from '../../test/support/zms-server/counters.ts';
import { kubectl } from '../sandbox/servers.ts';

/**
 * What the benchmark compares before and after a window: the API objects the operator writes
 * (their resourceVersions), the Events it created, the kube-apiserver's own request counters
 * for those resources, and the ZMS test server's request counters.
 */
export interface KubeSnapshot {
  /** `namespace/name` → resourceVersion of every managed RoleBinding. */
  bindings: Map<string, string>;
  /** name → resourceVersion of every AthenzRoleMapping. */
  mappings: Map<string, string>;
  /** uids of every Event about an AthenzRoleMapping. */
  events: Set<string>;
  /** kube-apiserver `apiserver_request_total` of write verbs, by `verb resource`. */
  apiserverWrites: Map<string, number>;
}

const WRITE_VERBS = new Set([
  'POST',
  'PUT',
  'PATCH',
  'APPLY',
  'DELETE',
  'DELETECOLLECTION',
  'CREATE',
  'UPDATE',
]);
const OPERATOR_RESOURCES = new Set(['rolebindings', 'athenzrolemappings', 'events']);

export async function kubeSnapshot(
  cluster: Cluster,
  assetsDir: string,
  kubeconfigPath: string,
): Promise<KubeSnapshot> {
  const [bindings, mappings, events, metrics] = await Promise.all([
    cluster.rbac.listRoleBindingForAllNamespaces({ labelSelector: MANAGED_SELECTOR }),
    cluster.custom.listClusterCustomObject({
      group: 'rbac.athenz.io',
      version: 'v1alpha1',
      plural: 'athenzrolemappings',
    }) as Promise<{ items: k8s.KubernetesObject[] }>,
    cluster.core.listEventForAllNamespaces({ fieldSelector: 'involvedObject.kind=AthenzRoleMapping' }),
    kubectl(assetsDir, kubeconfigPath, ['get', '--raw', '/metrics']),
  ]);
  return {
    bindings: new Map(
      bindings.items.map((rb) => [
        `${rb.metadata?.namespace}/${rb.metadata?.name}`,
        rb.metadata?.resourceVersion ?? '',
      ]),
    ),
    mappings: new Map(mappings.items.map((m) => [m.metadata?.name ?? '', m.metadata?.resourceVersion ?? ''])),
    events: new Set(events.items.map((e) => e.metadata?.uid ?? '')),
    apiserverWrites: apiserverWrites(metrics.stdout),
  };
}

/** Sums `apiserver_request_total` of write verbs on the resources the operator writes. */
export function apiserverWrites(metricsText: string): Map<string, number> {
  const sums = new Map<string, number>();
  for (const line of metricsText.split('\n')) {
    if (!line.startsWith('apiserver_request_total{')) continue;
    const labels = Object.fromEntries(
      [...line.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]] as [string, string]),
    );
    if (!WRITE_VERBS.has(labels.verb ?? '') || !OPERATOR_RESOURCES.has(labels.resource ?? '')) continue;
    const key = `${labels.verb} ${labels.resource}${labels.subresource ? `/${labels.subresource}` : ''}`;
    sums.set(key, (sums.get(key) ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  return sums;
}

export interface KubeWrites {
  /** Managed RoleBindings created, changed or deleted. */
  roleBindingsChanged: number;
  /** AthenzRoleMappings whose resourceVersion moved (status writes, finalizers). */
  mappingsChanged: number;
  eventsCreated: number;
  /** Write requests the API server counted on those resources, by `verb resource` (no-ops included). */
  apiserverWriteRequests: Record<string, number>;
  apiserverWriteRequestsTotal: number;
}

export function kubeWrites(before: KubeSnapshot, after: KubeSnapshot): KubeWrites {
  const changed = (a: Map<string, string>, b: Map<string, string>) => {
    let n = 0;
    for (const [key, rv] of b) if (a.get(key) !== rv) n++;
    for (const key of a.keys()) if (!b.has(key)) n++;
    return n;
  };
  const requests: Record<string, number> = {};
  for (const [key, count] of after.apiserverWrites) {
    const delta = count - (before.apiserverWrites.get(key) ?? 0);
    if (delta > 0) requests[key] = delta;
  }
  return {
    roleBindingsChanged: changed(before.bindings, after.bindings),
    mappingsChanged: changed(before.mappings, after.mappings),
    eventsCreated: [...after.events].filter((uid) => !before.events.has(uid)).length,
    apiserverWriteRequests: requests,
    apiserverWriteRequestsTotal: Object.values(requests).reduce((a, b) => a + b, 0),
  };
}

/** ZMS requests between two counter snapshots, by route. */
export function zmsRequests(
  before: CounterSnapshot,
  after: CounterSnapshot,
): { total: number; byRoute: Record<string, number> } {
  const byRoute: Record<string, number> = {};
  for (const [route, count] of Object.entries(after.byRoute)) {
    const delta = count - (before.byRoute[route] ?? 0);
    if (delta > 0) byRoute[route] = delta;
  }
  return { total: after.total - before.total, byRoute };
}

/** Sum of a Prometheus counter's series in a /metrics text, optionally filtered by a label. */
export function promSum(metricsText: string, name: string, filter?: (labels: string) => boolean): number {
  let sum = 0;
  for (const line of metricsText.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const labels = line.slice(name.length, line.lastIndexOf(' '));
    if (filter && !filter(labels)) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))]!;
}

export const seconds = (ms: number) => Math.round(ms) / 1000;
