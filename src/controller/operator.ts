import * as k8s from '@kubernetes/client-node';
import type { Logger } from 'winston';
import { CREATED_BY_TAG, MANAGED_SELECTOR, MAPPING_LABEL } from '../core/labels.ts';
import type { Mapping } from '../core/mapping.ts';
import { namespaceForDomain, subdomainFor } from '../core/names.ts';
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

const DOMAIN_DELETE_PREFIX = 'delete-domain/';

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
  readonly #zms: ZmsClient;
  readonly #log: Logger;
  readonly #metrics: Metrics;
  readonly #config: OperatorConfig;
  readonly #kube: KubeWriter;
  #workers: Promise<void> | undefined;
  #firstPassPending = new Set<string>();
  #started = false;

  constructor(
    kubeConfig: k8s.KubeConfig,
    zms: ZmsClient,
    config: OperatorConfig,
    log: Logger,
    metrics: Metrics,
  ) {
    this.#zms = zms;
    this.#log = log;
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
      { onChange: (obj, verb) => this.#onMapping(obj, verb) },
      log,
    );
    this.#namespaces = new ResilientInformer<k8s.V1Namespace>(
      'namespaces',
      kubeConfig,
      '/api/v1/namespaces',
      () => core.listNamespace(),
      { onChange: (ns, verb) => this.#onNamespace(ns, verb) },
      log,
    );
    this.#bindings = new ResilientInformer<k8s.V1RoleBinding>(
      'rolebindings',
      kubeConfig,
      '/apis/rbac.authorization.k8s.io/v1/rolebindings',
      () => rbac.listRoleBindingForAllNamespaces({ labelSelector: MANAGED_SELECTOR }),
      {
        // A changed or deleted managed binding is repaired by reconciling its mapping.
        onChange: (rb) => {
          const mapping = mappingOf(rb);
          if (mapping) this.queue.add(mapping);
        },
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
      zms,
      athenz: cache,
      kube: this.#kube,
      cluster: {
        mapping: (name) => {
          const obj = this.#mappings.get(name);
          return obj ? { ...toMapping(obj), status: obj.status } : undefined;
        },
        mappings: () => this.#mappings.list().map(toMapping),
        namespaces: () => this.#namespaces.list().map(toNamespaceInfo),
        bindingsOf: (name) =>
          this.#bindings
            .list()
            .filter((rb) => mappingOf(rb) === name)
            .map(toExistingRoleBinding),
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

  /** Starts the informers and waits for their first lists. Safe to call before leading. */
  async startCaches(): Promise<void> {
    await Promise.all([this.#mappings.start(), this.#namespaces.start(), this.#bindings.start()]);
  }

  get cachesSynced(): boolean {
    return this.#mappings.synced && this.#namespaces.synced && this.#bindings.synced;
  }

  /** True once every mapping that existed at start has been reconciled once. */
  get firstPassDone(): boolean {
    return this.#started && this.#firstPassPending.size === 0;
  }

  /** Starts reconciling (on the leader only). */
  startWorkers(): void {
    this.#started = true;
    this.#firstPassPending = new Set(this.#mappings.list().map((m) => m.metadata?.name ?? ''));
    this.#enqueueAllMappings();
    this.poller.start();
    const timer = this.#metrics.reconcileTime;
    this.#workers = this.queue.run(
      this.#config.workers,
      async (key) => {
        const end = timer.startTimer({ controller: this.#metrics.controller });
        try {
          const result = key.startsWith(DOMAIN_DELETE_PREFIX)
            ? await this.#deleteDomain(key.slice(DOMAIN_DELETE_PREFIX.length))
            : await withLogContext({ mapping: key, reconcileID: newReconcileId() }, () =>
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
    await this.poller.stop();
    await this.queue.shutdown(deadlineMs);
    await this.#workers;
    await Promise.all([this.#mappings.stop(), this.#namespaces.stop(), this.#bindings.stop()]);
  }

  #onMapping(obj: MappingObject, verb: 'add' | 'update' | 'delete'): void {
    const name = obj.metadata?.name;
    if (!name) return;
    if (verb === 'delete') {
      this.reconciler.forget(name);
      this.#firstPassPending.delete(name);
    }
    // Any mapping change can move a conflict between mappings: look at all of them. A status-only
    // update changes nothing they depend on, but telling it apart needs the old object, and
    // a no-op reconcile costs no API call.
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
      if (wouldSelect) this.queue.add(`${DOMAIN_DELETE_PREFIX}${mapping.name}/${info.name}`);
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

  /** Deletes `<parent>.<ns>` after its namespace went, only if this mapping's operator created it. */
  async #deleteDomain(rest: string): Promise<{ requeueAfterMs?: number }> {
    const [mappingName, namespace] = rest.split('/') as [string, string];
    if (this.#namespaces.get(namespace)) return {};
    const obj = this.#mappings.get(mappingName);
    if (!obj) return {};
    const mapping = toMapping(obj);
    const spec = mapping.spec;
    if (spec?.domain.onNamespaceDelete !== 'Delete') return {};
    const name = subdomainFor(spec.parentDomain, namespace);
    if ('error' in name) return {};
    const domain = await this.#zms.getDomain(name.domain);
    if (!domain) return {};
    const creators = domain.tags?.[CREATED_BY_TAG]?.list ?? [];
    if (!creators.includes(mapping.name)) {
      this.#log.info('kept Athenz domain of deleted namespace: not created by this operator', {
        mapping: mapping.name,
        namespace,
        athenzDomain: name.domain,
      });
      return {};
    }
    await this.#zms.deleteSubdomain(spec.parentDomain, namespace);
    this.#log.info('deleted Athenz domain of deleted namespace', {
      mapping: mapping.name,
      namespace,
      athenzDomain: name.domain,
    });
    await this.#kube
      .recordEvent({
        mapping: { name: mapping.name, uid: mapping.uid },
        type: 'Normal',
        reason: 'DomainDeleted',
        action: 'DeleteDomain',
        note: `Deleted Athenz domain ${name.domain}: namespace ${namespace} was deleted and onNamespaceDelete is Delete`,
      })
      .catch(() => undefined);
    return {};
  }
}
