import pLimit from 'p-limit';
import type { Logger } from 'winston';
import {
  type DesiredRoleBinding,
  type ExistingRoleBinding,
  keepOnly,
  MAX_BINDING_BYTES,
  type MappingRef,
  manifestBytes,
} from '../core/bindings.ts';
import { Reason } from '../core/conditions.ts';
import {
  type BindingDiff,
  type BindingRef,
  bindingKey,
  type ChangeReason,
  diffRoleBindings,
  type SubjectChange,
} from '../core/diff.ts';
import { ATHENZ_ROLE_ANNOTATION, CREATED_BY_TAG, FINALIZER } from '../core/labels.ts';
import type { Mapping, MappingSpec } from '../core/mapping.ts';
import { subdomainFor } from '../core/names.ts';
import { resolveConflicts } from '../core/ownership.ts';
import { type NamespaceInfo, selectNamespaces } from '../core/selection.ts';
import {
  type AthenzFailure,
  computeStatus,
  type MappingStatus,
  type Mode,
  type NamespaceFailure,
  type PlannedChange,
} from '../core/status.ts';
import { describeError, statusOf } from '../kube/api-error.ts';
import type { KubeWriter } from '../kube/kube-writer.ts';
import type { Metrics } from '../runtime/metrics.ts';
import type { ZmsClient } from '../zms/client.ts';
import { AccessReporter } from './access-reporter.ts';
import type { AthenzCache } from './athenz-cache.ts';
import { type NamespaceOutcome, syncNamespace } from './namespace-sync.ts';

/**
 * Reconciles one AthenzRoleMapping: gather (caches, ZMS) → plan (pure core) → apply (server-side
 * apply, in place) → status. Level-triggered and idempotent: it reads the current state each
 * time and does nothing when nothing differs. Throws (so the queue retries with backoff) when a
 * Kubernetes write failed or ZMS could not be heard; Athenz failures leave every existing binding
 * of the affected namespaces in place (only members whose expiry has passed are removed), and a
 * failed write keeps the binding it would have replaced. Write failures are failures in status.
 */
export interface ClusterView {
  mapping(name: string): (Mapping & { status?: Partial<MappingStatus> | undefined }) | undefined;
  mappings(): Mapping[];
  namespaces(): NamespaceInfo[];
  /** The namespace's uid when it exists (and is not being deleted). */
  namespaceUid(name: string): string | undefined;
  /** RoleBindings this mapping owns (owner reference to its uid), outside excluded namespaces. */
  bindingsOf(mappingName: string): ExistingRoleBinding[];
  /** Identifies this cluster in the created-by tag of the Athenz domains it creates. */
  clusterId(): string | undefined;
}

export interface ReconcilerConfig {
  allowedClusterRoles: ReadonlySet<string>;
  excludedNamespaces: ReadonlySet<string>;
  operatorPrincipal: string;
  /** Namespaces synced (and bindings written) at once within one reconcile. */
  namespaceConcurrency: number;
}

export interface ReconcilerDeps {
  zms: ZmsClient;
  athenz: AthenzCache;
  kube: KubeWriter;
  cluster: ClusterView;
  config: ReconcilerConfig;
  log: Logger;
  metrics: Metrics;
  clock: () => Date;
  /** The change poller's view of ZMS: a failure there makes every mapping report it. */
  pollerFailure: () => AthenzFailure;
}

/** A reconcile that must be retried; `retryAfterMs` is the least wait asked for (Retry-After). */
export class ReconcileError extends Error {
  readonly retryAfterMs: number | undefined;
  constructor(message: string, retryAfterMs?: number) {
    super(message);
    this.retryAfterMs = retryAfterMs;
  }
}

type Ok = Extract<NamespaceOutcome, { ok: true }>;
type Failed = Extract<NamespaceOutcome, { ok: false }>;

interface WriteResult {
  failures: NamespaceFailure[];
  error: unknown;
}

const WRITE_FAILED = 'RoleBindingWriteFailed';
const NAME_TAKEN = 'BindingNameTaken';
const TOO_LARGE = 'BindingTooLarge';
const pairKey = (namespace: string, athenzRole: string) => `${namespace}\u0000${athenzRole}`;

export class MappingReconciler {
  readonly #deps: ReconcilerDeps;
  /** Per mapping: the subjects this operator last applied to each of its bindings. */
  readonly #lastApplied = new Map<string, Map<string, string[]>>();
  /** When each changed Athenz domain last moved, until a binding change from it is applied. */
  readonly #pendingChanges = new Map<string, Date>();
  /** Per mapping: namespaces where it lost a role to an older mapping whose binding is not there yet. */
  readonly #awaitingWinner = new Map<string, Set<string>>();
  /** Per mapping: deleted namespaces (name → uid) whose Athenz domain it may have to delete. */
  readonly #deletedNamespaces = new Map<string, Map<string, string>>();
  readonly #reporter: AccessReporter;

  constructor(deps: ReconcilerDeps) {
    this.#deps = deps;
    this.#reporter = new AccessReporter(deps.kube, deps.log, deps.metrics);
  }

  async reconcile(name: string): Promise<{ requeueAfterMs?: number }> {
    const mapping = this.#deps.cluster.mapping(name);
    if (!mapping) return {};
    if (mapping.deleting) {
      this.#deletedNamespaces.delete(name);
      await this.#finalize(mapping);
      return {};
    }
    if (!mapping.finalizers.includes(FINALIZER)) {
      await this.#deps.kube.setFinalizers(mapping, [...mapping.finalizers, FINALIZER]);
    }
    const now = this.#deps.clock();
    const base = { generation: mapping.generation, previous: mapping.status, now };

    if (!mapping.spec) {
      const invalid = { reason: Reason.SpecInvalid, message: mapping.specError ?? 'invalid spec' };
      await this.#writeStatus(mapping, computeStatus({ ...base, ...empty('Active'), invalidSpec: invalid }));
      this.#reporter.warnOnce(mapping, invalid.reason, 'Validate', invalid.message);
      return {};
    }
    const spec = mapping.spec;
    if (spec.suspend) {
      await this.#writeStatus(mapping, computeStatus({ ...base, ...empty('Suspended'), selected: 0 }));
      return {};
    }
    // A spec the operator may not act on fully (a ClusterRole outside the allowed list) freezes
    // additions only: members removed from Athenz or expired still lose access.
    const frozen = this.#invalidSpec(mapping);
    if (frozen) this.#reporter.warnOnce(mapping, frozen.reason, 'Validate', frozen.message);
    // Under the mapping's own key, so it never races this mapping's sync of the same namespace.
    const domainError =
      spec.dryRun || frozen ? undefined : await this.#deleteDomainsOfDeletedNamespaces(mapping, spec);
    const result = await this.#sync(mapping, spec, now, frozen);
    if (domainError) throw domainError;
    return result;
  }

  async #sync(
    mapping: Mapping & { status?: Partial<MappingStatus> | undefined },
    spec: MappingSpec,
    now: Date,
    frozen: { reason: string; message: string } | undefined,
  ) {
    const mode: Mode = spec.dryRun ? 'DryRun' : 'Active';
    const { cluster } = this.#deps;
    const selected = selectNamespaces(spec, cluster.namespaces(), this.#deps.config.excludedNamespaces);
    const { conflicts, lost } = resolveConflicts(claim(mapping, spec, selected), this.#claims(mapping.name));

    // Gather: the Athenz side of every selected namespace.
    const outcomes = await this.#syncNamespaces(mapping, spec, selected, lost, now, Boolean(frozen));
    const ok = outcomes.filter((o): o is Ok => o.ok);
    const failed = outcomes.filter((o): o is Failed => !o.ok);

    // Plan: what must change in Kubernetes.
    const existing = cluster.bindingsOf(mapping.name);
    const ref = { name: mapping.name, uid: mapping.uid };
    const desired = [
      ...(frozen ? onlyRemovals(ok, existing, ref) : ok.flatMap((o) => o.bindings)),
      ...expiredDuringFailure(failed, existing, ref),
    ];
    const winners = new Map(conflicts.map((c) => [pairKey(c.namespace, c.athenzRole), c.owner]));
    const awaiting = new Set<string>();
    const diff = this.#diff(
      mapping,
      spec,
      selected,
      ok,
      failed,
      desired,
      existing,
      winners,
      awaiting,
      !!frozen,
    );
    this.#awaitWinner(mapping.name, awaiting);

    // Apply (not in a dry run), then report.
    const written: WriteResult =
      mode === 'Active'
        ? await this.#apply(mapping, diff, desired, existing)
        : { failures: [], error: undefined };
    this.#reporter.skippedMembers(
      mapping,
      ok.flatMap((o) => o.skipped.map((s) => ({ ...s, namespace: o.namespace }))),
    );
    const failures = mergeFailures([...failed.map((f) => f.failure), ...written.failures]);
    this.#reporter.namespacesFailed(mapping, failures);
    const status = computeStatus({
      generation: mapping.generation,
      previous: mapping.status,
      now,
      mode,
      selected: selected.length,
      failures,
      subjects: new Set(ok.flatMap((o) => o.bindings.flatMap((b) => b.subjects.map((s) => s.name)))).size,
      athenz: failed.find((f) => f.athenz)?.athenz ?? this.#deps.pollerFailure(),
      conflicts,
      frozen,
      plannedChanges:
        mode === 'DryRun' ? [...ok.flatMap((o) => o.athenzChanges), ...plannedBindingChanges(diff)] : [],
      changed:
        mode === 'Active' &&
        (diff.apply.length + diff.remove.length > written.failures.length ||
          ok.some((o) => o.athenzChanges.length > 0)),
    });
    await this.#writeStatus(mapping, status);
    this.#recordGauges(mapping.name, status);

    if (written.error) {
      throw new ReconcileError(`Kubernetes writes failed: ${describeError(written.error)}`);
    }
    const zmsFailed = failed.filter((f) => f.athenz);
    if (zmsFailed.length > 0) {
      const retryAfterMs = Math.max(0, ...zmsFailed.map((f) => f.retryAfterMs ?? 0)) || undefined;
      throw new ReconcileError(`ZMS failed for ${zmsFailed.length} namespaces`, retryAfterMs);
    }
    const nextExpiry = [...ok, ...failed].reduce<Date | undefined>(
      (min, o) => (o.nextExpiry && (!min || o.nextExpiry < min) ? o.nextExpiry : min),
      undefined,
    );
    // Come back just after the earliest expiry, so an expired member loses access within a second.
    return nextExpiry
      ? { requeueAfterMs: Math.max(0, nextExpiry.getTime() - this.#deps.clock().getTime()) + 50 }
      : {};
  }

  async #syncNamespaces(
    mapping: Mapping,
    spec: MappingSpec,
    selected: string[],
    lost: (namespace: string, athenzRole: string) => boolean,
    now: Date,
    readOnly: boolean,
  ): Promise<NamespaceOutcome[]> {
    const { config, cluster } = this.#deps;
    const limit = pLimit(config.namespaceConcurrency);
    const ref = { name: mapping.name, uid: mapping.uid };
    const creator = creatorTag(cluster.clusterId(), mapping.name);
    // Settle every namespace before failing, so no namespace work outlives this reconcile.
    const results = await Promise.allSettled(
      selected.map((namespace) =>
        limit(() =>
          syncNamespace(this.#deps.zms, this.#deps.athenz, {
            mapping: ref,
            spec,
            namespace,
            skipRoles: new Set(spec.roles.map((r) => r.athenzRole).filter((role) => lost(namespace, role))),
            operatorPrincipal: config.operatorPrincipal,
            creator,
            readOnly,
            now,
          }),
        ),
      ),
    );
    const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (rejected) throw rejected.reason;
    return results.map((r) => (r as PromiseFulfilledResult<NamespaceOutcome>).value);
  }

  /** The diff against the existing bindings. Bindings in namespaces whose Athenz read failed are
   * kept (fail static). A binding of a role lost to an older mapping is kept until the winner's
   * own binding exists (its namespace is added to `awaiting`), then removed: no gap in access,
   * and no frozen binding that Athenz no longer updates. */
  #diff(
    mapping: Mapping,
    spec: MappingSpec,
    selected: string[],
    ok: Ok[],
    failed: Failed[],
    desired: DesiredRoleBinding[],
    existing: ExistingRoleBinding[],
    winners: ReadonlyMap<string, string>,
    awaiting: Set<string>,
    frozen: boolean,
  ): BindingDiff {
    const failedNamespaces = new Set(failed.map((f) => f.namespace));
    const selectedSet = new Set(selected);
    const mappedRoles = new Set(spec.roles.map((r) => r.athenzRole));
    const expired = new Map<string, ReadonlySet<string>>();
    for (const o of [...ok, ...failed]) {
      const perBinding = o.ok ? o.expired : o.expiredWhileFailing;
      for (const [name, set] of perBinding ?? []) expired.set(`${o.namespace}/${name}`, set);
    }
    const winnerOf = (b: ExistingRoleBinding) =>
      selectedSet.has(b.namespace)
        ? winners.get(pairKey(b.namespace, b.annotations[ATHENZ_ROLE_ANNOTATION] ?? ''))
        : undefined;
    return diffRoleBindings(desired, existing, {
      lastApplied: this.#lastApplied.get(mapping.name) ?? new Map(),
      expired,
      keep: (b) => {
        if (frozen || failedNamespaces.has(b.namespace)) return true;
        const winner = winnerOf(b);
        if (!winner || this.#hasBinding(winner, b)) return false;
        awaiting.add(b.namespace);
        return true;
      },
      removalReason: (b): ChangeReason => {
        if (!selectedSet.has(b.namespace)) return 'NamespaceUnselected';
        if (winnerOf(b)) return 'RoleClaimedByOlderMapping';
        const role = b.annotations[ATHENZ_ROLE_ANNOTATION];
        return role && mappedRoles.has(role) ? 'ClusterRoleChanged' : 'RoleUnmapped';
      },
    });
  }

  /**
   * Applies in place first, removes last: a renamed binding exists before its old name goes, and
   * an old binding whose replacement failed to apply stays. Every failed write is reported per
   * namespace (object and API error); a delete refused by its precondition (409: the binding
   * changed since the cache saw it) is only retried.
   */
  async #apply(
    mapping: Mapping,
    diff: BindingDiff,
    desired: DesiredRoleBinding[],
    existing: ExistingRoleBinding[],
  ): Promise<WriteResult> {
    const { kube, log } = this.#deps;
    const limit = pLimit(this.#deps.config.namespaceConcurrency);
    const failures: NamespaceFailure[] = [];
    let error: unknown;
    const written = new Set<string>();
    const failedPairs = new Set<string>();
    const fail = (ref: BindingRef, verb: 'apply' | 'delete', err: unknown) => {
      error ??= err;
      this.#deps.metrics.writeFailures.inc({ verb });
      failures.push({
        namespace: ref.namespace,
        reason: WRITE_FAILED,
        message: `${verb} RoleBinding ${ref.namespace}/${ref.name} failed: ${describeError(err)}`,
      });
    };
    /** Refused before sending: the binding it would replace stays (its pair is not removed below). */
    const notApplied = (binding: DesiredRoleBinding, reason: string, message: string) => {
      failedPairs.add(pairKey(binding.namespace, binding.athenzRole));
      failures.push({ namespace: binding.namespace, reason, message });
    };
    const owned = new Set(existing.map(bindingKey));
    await Promise.all(
      diff.apply.map((binding) =>
        limit(async () => {
          const key = bindingKey(binding);
          const bytes = manifestBytes(binding);
          if (bytes > MAX_BINDING_BYTES) {
            // Refused before it is sent: the API server would refuse it anyway (413 or etcd's
            // limit). What is bound now stays bound; nothing is split or cut silently.
            notApplied(
              binding,
              TOO_LARGE,
              `RoleBinding ${key} would hold ${binding.subjects.length} subjects (${bytes} bytes), over the ${MAX_BINDING_BYTES} bytes Kubernetes can store: left as it is`,
            );
            return;
          }
          try {
            // What this mapping does not own yet is created, never applied over: a same-named
            // object someone else made is reported and left alone, not adopted.
            if (owned.has(key)) await kube.applyRoleBinding(binding);
            else if ((await kube.createRoleBinding(binding)) === 'taken') {
              notApplied(
                binding,
                NAME_TAKEN,
                `RoleBinding ${key} exists and was not created by this mapping: left as it is (delete or rename it to let the mapping bind ${binding.athenzDomain}:role.${binding.athenzRole})`,
              );
              return;
            }
            written.add(key);
          } catch (err) {
            failedPairs.add(pairKey(binding.namespace, binding.athenzRole));
            fail(binding, 'apply', err);
          }
        }),
      ),
    );
    const removed = new Set<string>();
    await Promise.all(
      diff.remove.map((ref) =>
        limit(async () => {
          if (ref.athenzRole && failedPairs.has(pairKey(ref.namespace, ref.athenzRole))) {
            log.warn('kept RoleBinding: its replacement could not be applied', {
              mapping: mapping.name,
              namespace: ref.namespace,
              roleBinding: ref.name,
            });
            return;
          }
          try {
            await kube.deleteRoleBinding(ref);
            written.add(bindingKey(ref));
            removed.add(bindingKey(ref));
          } catch (err) {
            if (statusOf(err) === 409) error ??= err;
            else fail(ref, 'delete', err);
          }
        }),
      ),
    );
    this.#rememberApplied(mapping.name, diff, desired, existing, written, removed);
    const done: SubjectChange[] = diff.changes.filter((c) => written.has(`${c.namespace}/${c.roleBinding}`));
    this.#observePropagation(done);
    this.#reporter.accessChanged(
      mapping,
      done,
      diff.apply.filter((b) => written.has(bindingKey(b))),
    );
    return { failures, error };
  }

  /** What each binding now holds: what was applied, or what was already up to date. Entries exist
   * only for bindings that exist, so the map never outgrows the cluster. */
  #rememberApplied(
    mappingName: string,
    diff: BindingDiff,
    desired: DesiredRoleBinding[],
    existing: ExistingRoleBinding[],
    written: ReadonlySet<string>,
    removed: ReadonlySet<string>,
  ): void {
    const previous = this.#lastApplied.get(mappingName) ?? new Map<string, string[]>();
    const next = new Map<string, string[]>();
    for (const b of existing) {
      const key = bindingKey(b);
      const last = previous.get(key);
      if (last && !removed.has(key)) next.set(key, last);
    }
    const pending = new Set(diff.apply.map(bindingKey));
    for (const binding of desired) {
      const key = bindingKey(binding);
      if (written.has(key) || !pending.has(key))
        next.set(
          key,
          binding.subjects.map((s) => s.name),
        );
    }
    this.#lastApplied.set(mappingName, next);
  }

  #observePropagation(done: SubjectChange[]): void {
    const now = this.#deps.clock().getTime();
    for (const domain of new Set(done.map((c) => c.athenzDomain))) {
      const changedAt = domain ? this.#pendingChanges.get(domain) : undefined;
      if (!domain || !changedAt) continue;
      this.#deps.metrics.propagationDelay.observe(Math.max(0, now - changedAt.getTime()) / 1000);
      this.#pendingChanges.delete(domain);
    }
  }

  async #finalize(mapping: Mapping): Promise<void> {
    if (!mapping.finalizers.includes(FINALIZER)) return;
    const existing = this.#deps.cluster.bindingsOf(mapping.name);
    const changes: SubjectChange[] = [];
    for (const binding of existing) {
      await this.#deps.kube.deleteRoleBinding({
        namespace: binding.namespace,
        name: binding.name,
        ...(binding.uid ? { uid: binding.uid } : {}),
      });
      for (const s of binding.subjects) {
        changes.push({
          action: 'remove',
          subject: s.name,
          namespace: binding.namespace,
          roleBinding: binding.name,
          reason: 'MappingDeleted',
        });
      }
    }
    this.#lastApplied.delete(mapping.name);
    this.#reporter.accessChanged(mapping, changes, []);
    await this.#deps.kube.setFinalizers(
      mapping,
      mapping.finalizers.filter((f) => f !== FINALIZER),
    );
  }

  /**
   * `onNamespaceDelete: Delete`: deletes `<parent>.<ns>` for each namespace deleted since, only
   * when the namespace (that uid) is still gone after reading the domain, and only when the
   * domain's created-by tag names this cluster and mapping. Returns the first ZMS error (the
   * namespace stays pending and is retried with the mapping).
   */
  async #deleteDomainsOfDeletedNamespaces(mapping: Mapping, spec: MappingSpec): Promise<unknown> {
    const pending = this.#deletedNamespaces.get(mapping.name);
    if (!pending || pending.size === 0) return undefined;
    if (spec.domain.onNamespaceDelete !== 'Delete') {
      this.#deletedNamespaces.delete(mapping.name);
      return undefined;
    }
    const { zms, cluster, log } = this.#deps;
    const creator = creatorTag(cluster.clusterId(), mapping.name);
    let firstError: unknown;
    for (const [namespace, uid] of pending) {
      const context = { mapping: mapping.name, namespace, namespaceUid: uid };
      try {
        const name = subdomainFor(spec.parentDomain, namespace);
        const back = () => cluster.namespaceUid(namespace) !== undefined;
        if ('error' in name || back()) {
          pending.delete(namespace);
          continue;
        }
        const domain = await zms.getDomain(name.domain);
        // Re-checked after the read: a namespace created again meanwhile keeps its domain.
        if (!domain || back()) {
          pending.delete(namespace);
          continue;
        }
        const creators = domain.tags?.[CREATED_BY_TAG]?.list ?? [];
        if (!creator || !creators.includes(creator)) {
          log.info('kept Athenz domain of deleted namespace: not created by this cluster and mapping', {
            ...context,
            athenzDomain: name.domain,
            createdBy: creators,
          });
          pending.delete(namespace);
          continue;
        }
        await zms.deleteSubdomain(spec.parentDomain, namespace);
        pending.delete(namespace);
        log.info('deleted Athenz domain of deleted namespace', { ...context, athenzDomain: name.domain });
        this.#reporter.normal(
          mapping,
          'DomainDeleted',
          'DeleteDomain',
          `Deleted Athenz domain ${name.domain}: namespace ${namespace} was deleted and onNamespaceDelete is Delete`,
        );
      } catch (err) {
        firstError ??= err;
        log.warn('could not delete Athenz domain of deleted namespace; will retry', {
          ...context,
          error: String(err),
        });
      }
    }
    return firstError;
  }

  /** A namespace this mapping selected was deleted: its domain may have to go (see above). */
  noteNamespaceDeleted(mappingName: string, namespace: string, uid: string): void {
    const pending = this.#deletedNamespaces.get(mappingName) ?? new Map<string, string>();
    pending.set(namespace, uid);
    this.#deletedNamespaces.set(mappingName, pending);
  }

  /** Mappings that wait for another mapping's binding to appear in `namespace`. */
  mappingsAwaiting(namespace: string): string[] {
    return [...this.#awaitingWinner].filter(([, set]) => set.has(namespace)).map(([name]) => name);
  }

  #awaitWinner(mappingName: string, namespaces: Set<string>): void {
    if (namespaces.size > 0) this.#awaitingWinner.set(mappingName, namespaces);
    else this.#awaitingWinner.delete(mappingName);
  }

  #hasBinding(owner: string, like: ExistingRoleBinding): boolean {
    const role = like.annotations[ATHENZ_ROLE_ANNOTATION];
    return this.#deps.cluster
      .bindingsOf(owner)
      .some((b) => b.namespace === like.namespace && b.annotations[ATHENZ_ROLE_ANNOTATION] === role);
  }

  #invalidSpec(mapping: Mapping): { reason: string; message: string } | undefined {
    if (!mapping.spec) return undefined;
    const allowed = this.#deps.config.allowedClusterRoles;
    const refused = mapping.spec.roles.filter((r) => !allowed.has(r.clusterRole));
    if (refused.length === 0) return undefined;
    const which = refused
      .map(
        (r) =>
          `Athenz role ${r.athenzRole}: ClusterRole ${JSON.stringify(r.clusterRole)} is not in the operator's allowed list`,
      )
      .join('; ');
    return {
      reason: Reason.ClusterRoleNotAllowed,
      message: `${which} (allowed: ${[...allowed].join(', ')}). Until the spec is fixed, every role of this mapping is frozen: nothing is created or added, while members removed from Athenz or expired still lose access`,
    };
  }

  #claims(self: string) {
    const { cluster, config } = this.#deps;
    return cluster
      .mappings()
      .filter((m) => m.name !== self && m.spec && !m.deleting && !m.spec.suspend && !this.#invalidSpec(m))
      .map((m) =>
        claim(m, m.spec!, selectNamespaces(m.spec!, cluster.namespaces(), config.excludedNamespaces)),
      );
  }

  async #writeStatus(
    mapping: Mapping & { status?: Partial<MappingStatus> | undefined },
    status: MappingStatus,
  ) {
    if (sameJson(mapping.status, status)) return;
    await this.#deps.kube.applyStatus(mapping, status);
  }

  #recordGauges(name: string, status: MappingStatus) {
    const { metrics } = this.#deps;
    metrics.subjects.set({ mapping: name }, status.subjects);
    for (const state of ['selected', 'synced', 'failed'] as const) {
      metrics.namespaces.set({ mapping: name, state }, status.namespaces[state]);
    }
    if (status.lastSyncTime) metrics.lastSync.set({ mapping: name }, Date.parse(status.lastSyncTime) / 1000);
  }

  /** Remembers when an Athenz domain changed, to measure how long the change takes to apply. */
  noteAthenzChange(domain: string, modified: Date): void {
    if (this.#pendingChanges.size > 10_000) this.#pendingChanges.clear();
    this.#pendingChanges.set(domain, modified);
  }

  /** Forgets what it knew of a deleted mapping (its metrics series and per-mapping state). */
  forget(name: string): void {
    const { metrics } = this.#deps;
    metrics.subjects.remove({ mapping: name });
    metrics.lastSync.remove({ mapping: name });
    for (const state of ['selected', 'synced', 'failed']) metrics.namespaces.remove({ mapping: name, state });
    this.#lastApplied.delete(name);
    this.#awaitingWinner.delete(name);
    this.#deletedNamespaces.delete(name);
    this.#reporter.forget(name);
  }
}

/** The created-by tag value: this cluster and mapping, so a same-named mapping in another
 * cluster never counts as the creator. Undefined without a cluster identity. */
export function creatorTag(clusterId: string | undefined, mappingName: string): string {
  return clusterId ? `${clusterId}:${mappingName}` : mappingName;
}

/** For namespaces whose Athenz read failed: their bindings minus members expired since, or with
 * no subjects at all when ZMS verified their domain missing. */
function expiredDuringFailure(
  failed: Failed[],
  existing: ExistingRoleBinding[],
  mapping: MappingRef,
): DesiredRoleBinding[] {
  const out: DesiredRoleBinding[] = [];
  for (const f of failed) {
    if (!f.expiredWhileFailing && !f.verifiedMissing) continue;
    for (const b of existing) {
      if (b.namespace !== f.namespace) continue;
      const expired = f.expiredWhileFailing?.get(b.name);
      const trimmed = f.verifiedMissing
        ? keepOnly(b, () => false, mapping)
        : expired
          ? keepOnly(b, (subject) => !expired.has(subject), mapping)
          : undefined;
      if (trimmed) out.push(trimmed);
    }
  }
  return out;
}

/** While the spec is frozen: each existing binding of a mapped role keeps only the subjects that
 * Athenz still grants for that role; nothing is created, added or deleted whole. */
function onlyRemovals(ok: Ok[], existing: ExistingRoleBinding[], mapping: MappingRef): DesiredRoleBinding[] {
  const out: DesiredRoleBinding[] = [];
  for (const o of ok) {
    for (const b of existing) {
      if (b.namespace !== o.namespace) continue;
      const wanted = o.bindings.find((d) => d.athenzRole === b.annotations[ATHENZ_ROLE_ANNOTATION]);
      if (!wanted) continue;
      const granted = new Set(wanted.subjects.map((s) => s.name));
      const trimmed = keepOnly(b, (subject) => granted.has(subject), mapping);
      if (trimmed) out.push(trimmed);
    }
  }
  return out;
}

/** One failure per namespace: a namespace can fail in Athenz and in a write. */
function mergeFailures(failures: NamespaceFailure[]): NamespaceFailure[] {
  const byNamespace = new Map<string, NamespaceFailure>();
  for (const f of failures) {
    const seen = byNamespace.get(f.namespace);
    byNamespace.set(f.namespace, seen ? { ...seen, message: `${seen.message}; ${f.message}` } : f);
  }
  return [...byNamespace.values()].sort((a, b) => a.namespace.localeCompare(b.namespace));
}

function claim(mapping: Mapping, spec: MappingSpec, namespaces: string[]) {
  return {
    name: mapping.name,
    creationTimestamp: mapping.creationTimestamp,
    namespaces,
    athenzRoles: spec.roles.map((r) => r.athenzRole),
  };
}

function empty(mode: Mode) {
  return {
    mode,
    selected: 0,
    failures: [],
    subjects: 0,
    athenz: undefined,
    conflicts: [],
    plannedChanges: [],
  };
}

function plannedBindingChanges(diff: BindingDiff): PlannedChange[] {
  const changes: PlannedChange[] = diff.changes.map((c) => ({
    action: c.action === 'add' ? 'AddSubject' : 'RemoveSubject',
    namespace: c.namespace,
    target: c.roleBinding,
    subject: c.subject,
  }));
  for (const ref of diff.remove)
    changes.push({ action: 'DeleteRoleBinding', namespace: ref.namespace, target: ref.name });
  return changes;
}

/** Deep equality of two JSON values, ignoring key order. */
function sameJson(a: unknown, b: unknown): boolean {
  return canonical(a) === canonical(b);
}
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, value: unknown) =>
    value && typeof value === 'object' && !Array.isArray(value)
      ? Object.fromEntries(
          Object.entries(value as Record<string, unknown>).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)),
        )
      : value,
  );
}
