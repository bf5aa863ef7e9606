import * as k8s from '@kubernetes/client-node';
import type { Logger } from 'winston';
import { MANAGED_SELECTOR, MAPPING_LABEL } from '../core/labels.ts';
import type { Mapping } from '../core/mapping.ts';
import { namespaceForDomain } from '../core/names.ts';
import { DEFAULT_EXCLUDED_NAMESPACES, selectNamespaces } from '../core/selection.ts';
import { describeError } from '../kube/api-error.ts';
import { ResilientInformer } from '../kube/informer.ts';
import { createKubeWriter, type KubeWriter } from '../kube/kube-writer.ts';
import {
  GROUP,
  type MappingObject,
  PLURAL,
  toExistingRoleBinding,
  toMapping,
  toNamespaceInfo,
  VERSION,
} from '../kube/mapping-resource.ts';
import { newReconcileId, withLogContext } from '../runtime/log-context.ts';
import type { Metrics } from '../runtime/metrics.ts';
import { withAuditLog } from '../zms/audit-log.ts';
import type { ZmsClient } from '../zms/client.ts';
import { AthenzCache } from './athenz-cache.ts';
import { ChangePoller } from './change-poller.ts';
import { MappingReconciler } from './reconciler.ts';
import { WorkQueue } from './workqueue.ts';

/**
 * Wires the controller: three informers (AthenzRoleMappings, Namespaces, managed RoleBindings)
 * turn watch events into mapping names on one work queue; workers reconcile names; the change
 * poller turns Athenz changes into names too. Everything maps to the root object, the mapping.
 */
export interface OperatorConfig {
  allowedClusterRoles: string[];
  /** Added to the system namespaces and the operator's own. */
  excludedNamespaces: string[];
  operatorNamespace: string;
  /** The operator's Athenz identity: admin of the subdomains it creates unless a mapping names others. */
  operatorPrincipal: string;
  workers: number;
  namespaceConcurrency: number;
  resyncPeriodMs: number;
  fieldManager: string;
  instance: string;
  /** Poll period while no mapping exists. */
  defaultIntervalMs: number;
}

/** Its uid identifies the cluster (the usual cluster id: it lives as long as the cluster). */
const CLUSTER_ID_NAMESPACE = 'kube-system';

/** The mapping a managed RoleBinding belongs to: by label or, when someone removed the label,
 * by owner reference. */
function mappingOf(rb: k8s.V1RoleBinding): string | undefined {
  return (
    rb.metadata?.labels?.[MAPPING_LABEL] ??
    rb.metadata?.ownerReferences?.find((o) => o.kind === 'AthenzRoleMapping')?.name
  );
}

export class Operator {
  readonly queue: WorkQueue;
  readonly poller: ChangePoller;
  readonly reconciler: MappingReconciler;
  readonly #mappings: ResilientInformer<MappingObject>;
  readonly #namespaces: ResilientInformer<k8s.V1Namespace>;
  readonly #bindings: ResilientInformer<k8s.V1RoleBinding>;
  readonly #log: Logger;
  readonly #metrics: Metrics;
  readonly #config: OperatorConfig;
  readonly #kube: KubeWriter;
  #workers: Promise<void> | undefined;
  #firstPassPending = new Set<string>();
  #started = false;
  /** The generation and deletion state last seen per mapping: only a change there matters to others. */
  readonly #seenGenerations = new Map<string, string>();

  constructor(
    kubeConfig: k8s.KubeConfig,
    zms: ZmsClient,
    config: OperatorConfig,
    log: Logger,
    metrics: Metrics,
  ) {
    this.#log = log;
    const audited = withAuditLog(zms, log);
    this.#metrics = metrics;
    this.#config = config;
    const queueName = metrics.controller;
    this.queue = new WorkQueue({
      onAdd: () => metrics.queueAdds.inc({ name: queueName }),
      onRetry: () => metrics.queueRetries.inc({ name: queueName }),
      onDepth: (depth) => metrics.queueDepth.set({ name: queueName }, depth),
    });
    const custom = kubeConfig.makeApiClient(k8s.CustomObjectsApi);
    const core = kubeConfig.makeApiClient(k8s.CoreV1Api);
    const rbac = kubeConfig.makeApiClient(k8s.RbacAuthorizationV1Api);
    this.#kube = createKubeWriter(kubeConfig, {
      fieldManager: config.fieldManager,
      instance: config.instance,
    });

    this.#mappings = new ResilientInformer<MappingObject>(
      'athenzrolemappings',
      kubeConfig,
      `/apis/${GROUP}/${VERSION}/${PLURAL}`,
      () => custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL }) as never,
      { onChange: (obj, verb) => this.#onMapping(obj, verb), onHealthy: () => this.#onCacheHealthy() },
      log,
    );
    this.#namespaces = new ResilientInformer<k8s.V1Namespace>(
      'namespaces',
      kubeConfig,
      '/api/v1/namespaces',
      () => core.listNamespace(),
      { onChange: (ns, verb) => this.#onNamespace(ns, verb), onHealthy: () => this.#onCacheHealthy() },
      log,
    );
    this.#bindings = new ResilientInformer<k8s.V1RoleBinding>(
      'rolebindings',
      kubeConfig,
      '/apis/rbac.authorization.k8s.io/v1/rolebindings',
      () => rbac.listRoleBindingForAllNamespaces({ labelSelector: MANAGED_SELECTOR }),
      {
        // A changed or deleted managed binding is repaired by reconciling its mapping; a new one
        // may be what a mapping that lost the role to this one waits for before removing its own.
        onChange: (rb) => {
          const mapping = mappingOf(rb);
          if (mapping) this.queue.add(mapping);
          for (const waiting of this.reconciler.mappingsAwaiting(rb.metadata?.namespace ?? '')) {
            this.queue.add(waiting);
          }
        },
        onHealthy: () => this.#onCacheHealthy(),
      },
      log,
      MANAGED_SELECTOR,
    );

    const cache = new AthenzCache(zms);
    this.poller = new ChangePoller({
      zms,
      cache,
      log,
      metrics,
      intervalMs: () => this.#pollInterval(),
      resyncPeriodMs: config.resyncPeriodMs,
      parentDomains: () => [
        ...new Set(
          this.#mappings
            .list()
            .map((m) => toMapping(m).spec?.parentDomain)
            .filter((p): p is string => Boolean(p)),
        ),
      ],
      onDomainsChanged: (domains, modified) => {
        for (const [domain, at] of modified) this.reconciler.noteAthenzChange(domain, at);
        this.#onDomainsChanged(domains);
      },
      onResync: () => this.#enqueueAllMappings(),
    });
    const excluded = new Set([
      ...DEFAULT_EXCLUDED_NAMESPACES,
      config.operatorNamespace,
      ...config.excludedNamespaces,
    ]);
    this.reconciler = new MappingReconciler({
      zms: audited,
      athenz: cache,
      kube: this.#kube,
      cluster: {
        mapping: (name) => {
          const obj = this.#mappings.get(name);
          return obj ? { ...toMapping(obj), status: obj.status } : undefined;
        },
        mappings: () => this.#mappings.list().map(toMapping),
        namespaces: () => this.#namespaces.list().map(toNamespaceInfo),
        namespaceUid: (name) => {
          const ns = this.#namespaces.get(name);
          return ns && !toNamespaceInfo(ns).terminating ? ns.metadata?.uid : undefined;
        },
        clusterId: () => this.#namespaces.get(CLUSTER_ID_NAMESPACE)?.metadata?.uid,
        // Ours means an owner reference to this live mapping (its uid), never labels alone, and
        // never in a namespace the operator excludes: such objects are not read, written or deleted.
        bindingsOf: (name) => {
          const uid = this.#mappings.get(name)?.metadata?.uid;
          if (!uid) return [];
          return this.#bindings
            .list()
            .filter(
              (rb) =>
                !excluded.has(rb.metadata?.namespace ?? '') &&
                (rb.metadata?.ownerReferences ?? []).some(
                  (o) => o.uid === uid && o.kind === 'AthenzRoleMapping',
                ),
            )
            .map(toExistingRoleBinding);
        },
      },
      config: {
        allowedClusterRoles: new Set(config.allowedClusterRoles),
        excludedNamespaces: excluded,
        operatorPrincipal: config.operatorPrincipal,
        namespaceConcurrency: config.namespaceConcurrency,
      },
      log,
      metrics,
      clock: () => new Date(),
      pollerFailure: () => this.poller.failure,
    });
  }

  /** Starts the informers and resolves once each has listed successfully (retrying failed lists),
   * or when `stop` is called. Safe to call before leading. */
  async startCaches(): Promise<void> {
    await Promise.all(this.#informers().map((i) => i.start()));
  }

  /** Every informer has listed at least once (readiness). */
  get cachesSynced(): boolean {
    return this.#informers().every((i) => i.synced);
  }

  /** Every informer reflects the API server now. While one does not, reconciles are held: a cache
   * that is behind could make bindings look unwanted. */
  get cachesHealthy(): boolean {
    return this.#informers().every((i) => i.healthy);
  }

  /** True once every mapping that existed at start has been reconciled once. */
  get firstPassDone(): boolean {
    return this.#started && this.#firstPassPending.size === 0;
  }

  /** Starts reconciling (on the leader only), once the caches have synced. */
  startWorkers(): void {
    if (!this.cachesSynced) throw new Error('startWorkers called before every cache had synced');
    this.#started = true;
    this.#firstPassPending = new Set(this.#mappings.list().map((m) => m.metadata?.name ?? ''));
    this.#enqueueAllMappings();
    this.poller.start();
    const timer = this.#metrics.reconcileTime;
    this.#workers = this.queue.run(
      this.#config.workers,
      async (key) => {
        if (!this.cachesHealthy) {
          // Held, not dropped: the cache that recovers enqueues every mapping (#onCacheHealthy).
          this.#log.debug('reconcile held: a cache is re-listing', { key });
          return {};
        }
        const end = timer.startTimer({ controller: this.#metrics.controller });
        try {
          const result = await withLogContext({ mapping: key, reconcileID: newReconcileId() }, () =>
            this.reconciler.reconcile(key),
          );
          this.#metrics.reconcileTotal.inc({
            controller: this.#metrics.controller,
            result: result.requeueAfterMs !== undefined ? 'requeue_after' : 'success',
          });
          this.#firstPassPending.delete(key);
          return result;
        } finally {
          end();
        }
      },
      (key, err) => {
        // Readiness means "tried everything once": an outage of ZMS must not hold a rollout.
        this.#firstPassPending.delete(key);
        this.#metrics.reconcileTotal.inc({ controller: this.#metrics.controller, result: 'error' });
        this.#metrics.reconcileErrors.inc({ controller: this.#metrics.controller });
        this.#log.warn('reconcile failed; will retry', {
          mapping: key,
          error: describeError(err),
          failures: this.queue.failures(key) + 1,
        });
      },
    );
  }

  /** Stops intake, lets reconciles in flight finish (within `deadlineMs`), stops watching. */
  async stop(deadlineMs = 20_000): Promise<void> {
    const deadline = Date.now() + deadlineMs;
    const left = () => Math.max(0, deadline - Date.now());
    await withDeadline(this.poller.stop(), left());
    await this.queue.shutdown(left());
    // Work still running at the deadline is abandoned, not awaited: the caller closes the ZMS
    // client (failing its requests) and exits; the next leader redoes it (reconciles are idempotent).
    if (this.#workers && !(await withDeadline(this.#workers, left()))) {
      this.#log.warn('shutdown deadline passed; abandoning reconciles in flight', {
        active: this.queue.active,
      });
    }
    await Promise.all(this.#informers().map((i) => i.stop()));
  }

  #informers(): Array<Pick<ResilientInformer<never>, 'synced' | 'healthy' | 'start' | 'stop'>> {
    return [this.#mappings, this.#namespaces, this.#bindings];
  }

  #onCacheHealthy(): void {
    if (this.#started && this.cachesHealthy) this.#enqueueAllMappings();
  }

  #onMapping(obj: MappingObject, verb: 'add' | 'update' | 'delete'): void {
    const name = obj.metadata?.name;
    if (!name) return;
    if (verb === 'delete') {
      this.reconciler.forget(name);
      this.#firstPassPending.delete(name);
      this.#seenGenerations.delete(name);
    } else {
      // Like controller-runtime's GenerationChangedPredicate: a status or metadata-only update
      // (our own status writes among them) changes nothing any mapping depends on.
      const seen = `${obj.metadata?.generation ?? 0}/${Boolean(obj.metadata?.deletionTimestamp)}`;
      if (this.#seenGenerations.get(name) === seen) {
        this.#log.debug('mapping update ignored: status or metadata only', { mapping: name });
        return;
      }
      this.#seenGenerations.set(name, seen);
    }
    // A spec change can move a conflict between mappings: look at all of them.
    this.#enqueueAllMappings();
    this.poller.intervalMayHaveChanged();
  }

  #onNamespace(ns: k8s.V1Namespace, verb: 'add' | 'update' | 'delete'): void {
    this.#enqueueAllMappings();
    if (verb !== 'delete') return;
    const info = toNamespaceInfo(ns);
    for (const mapping of this.#mappings.list().map(toMapping)) {
      if (mapping.spec?.domain.onNamespaceDelete !== 'Delete' || mapping.deleting) continue;
      const wouldSelect =
        selectNamespaces(mapping.spec, [{ ...info, terminating: false }], new Set()).length > 0;
      // Handled within the mapping's own reconcile (enqueued above), never beside it.
      if (wouldSelect) this.reconciler.noteNamespaceDeleted(mapping.name, info.name, ns.metadata?.uid ?? '');
    }
  }

  #onDomainsChanged(domains: Set<string>): void {
    for (const mapping of this.#mappings.list().map(toMapping)) {
      const parent = mapping.spec?.parentDomain;
      if (!parent) continue;
      for (const domain of domains) {
        if (namespaceForDomain(parent, domain) !== undefined) {
          this.queue.add(mapping.name);
          break;
        }
      }
    }
  }

  #enqueueAllMappings(): void {
    for (const m of this.#mappings.list()) if (m.metadata?.name) this.queue.add(m.metadata.name);
  }

  #pollInterval(): number {
    const intervals = this.#mappings
      .list()
      .map(toMapping)
      .filter(
        (m): m is Mapping & { spec: NonNullable<Mapping['spec']> } => Boolean(m.spec) && !m.spec?.suspend,
      )
      .map((m) => m.spec.syncInterval);
    return intervals.length > 0 ? Math.min(...intervals) : this.#config.defaultIntervalMs;
  }
}

/** True when `promise` settled within `ms`. */
async function withDeadline(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
