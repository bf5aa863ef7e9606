import pLimit from 'p-limit';
import type { Logger } from 'winston';
import type { DesiredRoleBinding, ExistingRoleBinding } from '../core/bindings.ts';
import { Reason } from '../core/conditions.ts';
import {
  type BindingDiff,
  bindingKey,
  type ChangeReason,
  diffRoleBindings,
  type SubjectChange,
} from '../core/diff.ts';
import { ATHENZ_ROLE_ANNOTATION, FINALIZER } from '../core/labels.ts';
import type { Mapping, MappingSpec } from '../core/mapping.ts';
import { resolveConflicts } from '../core/ownership.ts';
import { type NamespaceInfo, selectNamespaces } from '../core/selection.ts';
import {
  type AthenzFailure,
  computeStatus,
  type MappingStatus,
  type Mode,
  type PlannedChange,
} from '../core/status.ts';
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
 * Kubernetes write failed or ZMS could not be heard; Athenz failures still leave every existing
 * binding of the affected namespaces untouched.
 */
export interface ClusterView {
  mapping(name: string): (Mapping & { status?: Partial<MappingStatus> | undefined }) | undefined;
  mappings(): Mapping[];
  namespaces(): NamespaceInfo[];
  /** Managed RoleBindings labelled with this mapping's name. */
  bindingsOf(mappingName: string): ExistingRoleBinding[];
}

export interface ReconcilerConfig {
  allowedClusterRoles: ReadonlySet<string>;
  excludedNamespaces: ReadonlySet<string>;
  operatorPrincipal: string;
  /** Namespaces synced at once within one reconcile. */
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

export class ReconcileError extends Error {}

export class MappingReconciler {
  readonly #deps: ReconcilerDeps;
  readonly #lastApplied = new Map<string, string[]>();
  /** When each changed Athenz domain last moved, until a binding change from it is applied. */
  readonly #pendingChanges = new Map<string, Date>();
  readonly #reporter: AccessReporter;

  constructor(deps: ReconcilerDeps) {
    this.#deps = deps;
    this.#reporter = new AccessReporter(deps.kube, deps.log, deps.metrics);
  }

  async reconcile(name: string): Promise<{ requeueAfterMs?: number }> {
    const mapping = this.#deps.cluster.mapping(name);
    if (!mapping) return {};
    if (mapping.deleting) {
      await this.#finalize(mapping);
      return {};
    }
    if (!mapping.finalizers.includes(FINALIZER)) {
      await this.#deps.kube.setFinalizers(mapping, [...mapping.finalizers, FINALIZER]);
    }
    const now = this.#deps.clock();
    const base = { generation: mapping.generation, previous: mapping.status, now };

    const invalid = this.#invalidSpec(mapping);
    if (invalid || !mapping.spec) {
      const spec = invalid ?? { reason: Reason.SpecInvalid, message: mapping.specError ?? 'invalid spec' };
      await this.#writeStatus(mapping, computeStatus({ ...base, ...empty('Active'), invalidSpec: spec }));
      this.#reporter.warnOnce(mapping, spec.reason, 'Validate', spec.message);
      return {};
    }
    const spec = mapping.spec;
    if (spec.suspend) {
      await this.#writeStatus(mapping, computeStatus({ ...base, ...empty('Suspended'), selected: 0 }));
      return {};
    }
    return this.#sync(mapping, spec, now);
  }

  async #sync(
    mapping: Mapping & { status?: Partial<MappingStatus> | undefined },
    spec: MappingSpec,
    now: Date,
  ) {
    const mode: Mode = spec.dryRun ? 'DryRun' : 'Active';
    const selected = selectNamespaces(
      spec,
      this.#deps.cluster.namespaces(),
      this.#deps.config.excludedNamespaces,
    );
    const { conflicts, lost } = resolveConflicts(claim(mapping, spec, selected), this.#claims(mapping.name));

    // Gather: the Athenz side of every selected namespace.
    const outcomes = await this.#syncNamespaces(mapping, spec, selected, lost, now);
    const ok = outcomes.filter((o): o is Extract<NamespaceOutcome, { ok: true }> => o.ok);
    const failed = outcomes.filter((o): o is Extract<NamespaceOutcome, { ok: false }> => !o.ok);

    // Plan: what must change in Kubernetes.
    const desired = ok.flatMap((o) => o.bindings);
    const diff = this.#diff(mapping, spec, selected, ok, failed, desired, lost);

    // Apply (not in a dry run), then report.
    const writeError = mode === 'Active' ? await this.#apply(mapping, diff, desired) : undefined;
    for (const o of ok) this.#reporter.skippedMembers(mapping, o.namespace, o.skipped);
    for (const f of failed) {
      this.#reporter.warnOnce(mapping, f.failure.reason, 'Sync', `${f.namespace}: ${f.failure.message}`);
    }
    const status = computeStatus({
      generation: mapping.generation,
      previous: mapping.status,
      now,
      mode,
      selected: selected.length,
      failures: failed.map((f) => f.failure),
      subjects: new Set(desired.flatMap((b) => b.subjects.map((s) => s.name))).size,
      athenz: failed.find((f) => f.athenz)?.athenz ?? this.#deps.pollerFailure(),
      conflicts,
      plannedChanges:
        mode === 'DryRun' ? [...ok.flatMap((o) => o.athenzChanges), ...plannedBindingChanges(diff)] : [],
      changed:
        mode === 'Active' &&
        (diff.apply.length + diff.remove.length > 0 || ok.some((o) => o.athenzChanges.length > 0)),
    });
    await this.#writeStatus(mapping, status);
    this.#recordGauges(mapping.name, status);

    if (writeError) throw writeError;
    if (failed.some((f) => f.athenz)) throw new ReconcileError(`ZMS failed for ${failed.length} namespaces`);
    const nextExpiry = ok.reduce<Date | undefined>(
      (min, o) => (o.nextExpiry && (!min || o.nextExpiry < min) ? o.nextExpiry : min),
      undefined,
    );
    // Come back just after the earliest expiry, so an expired member loses access within a second.
    return nextExpiry
      ? { requeueAfterMs: Math.max(0, nextExpiry.getTime() - this.#deps.clock().getTime()) + 50 }
      : {};
  }

  #syncNamespaces(
    mapping: Mapping,
    spec: MappingSpec,
    selected: string[],
    lost: (namespace: string, athenzRole: string) => boolean,
    now: Date,
  ): Promise<NamespaceOutcome[]> {
    const { config } = this.#deps;
    const limit = pLimit(config.namespaceConcurrency);
    const ref = { name: mapping.name, uid: mapping.uid };
    return Promise.all(
      selected.map((namespace) =>
        limit(() =>
          syncNamespace(this.#deps.zms, this.#deps.athenz, {
            mapping: ref,
            spec,
            namespace,
            skipRoles: new Set(spec.roles.map((r) => r.athenzRole).filter((role) => lost(namespace, role))),
            operatorPrincipal: config.operatorPrincipal,
            now,
          }),
        ),
      ),
    );
  }

  /** The diff against the existing bindings. Bindings in namespaces whose Athenz read failed, and
   * those another mapping manages, are kept as they are. */
  #diff(
    mapping: Mapping,
    spec: MappingSpec,
    selected: string[],
    ok: Array<Extract<NamespaceOutcome, { ok: true }>>,
    failed: Array<Extract<NamespaceOutcome, { ok: false }>>,
    desired: DesiredRoleBinding[],
    lost: (namespace: string, athenzRole: string) => boolean,
  ): BindingDiff {
    const failedNamespaces = new Set(failed.map((f) => f.namespace));
    const selectedSet = new Set(selected);
    const mappedRoles = new Set(spec.roles.map((r) => r.athenzRole));
    const expired = new Map(
      ok.flatMap((o) => [...o.expired].map(([name, set]) => [`${o.namespace}/${name}`, set] as const)),
    );
    return diffRoleBindings(desired, this.#deps.cluster.bindingsOf(mapping.name), {
      lastApplied: this.#lastApplied,
      expired,
      keep: (b) =>
        failedNamespaces.has(b.namespace) || lost(b.namespace, b.annotations[ATHENZ_ROLE_ANNOTATION] ?? ''),
      removalReason: (b): ChangeReason => {
        if (!selectedSet.has(b.namespace)) return 'NamespaceUnselected';
        const role = b.annotations[ATHENZ_ROLE_ANNOTATION];
        return role && mappedRoles.has(role) ? 'ClusterRoleChanged' : 'RoleUnmapped';
      },
    });
  }

  /** Applies in place first, removes last: a renamed binding exists before its old name goes. */
  async #apply(mapping: Mapping, diff: BindingDiff, desired: DesiredRoleBinding[]): Promise<unknown> {
    const { kube } = this.#deps;
    let firstError: unknown;
    const applied = new Set<string>();
    for (const binding of diff.apply) {
      try {
        await kube.applyRoleBinding(binding);
        applied.add(bindingKey(binding));
      } catch (err) {
        firstError ??= err;
      }
    }
    for (const ref of diff.remove) {
      try {
        await kube.deleteRoleBinding(ref);
        applied.add(bindingKey(ref));
        this.#lastApplied.delete(bindingKey(ref));
      } catch (err) {
        firstError ??= err;
      }
    }
    // Remember what each binding now holds: what was applied, or what was already up to date.
    const pending = new Set(diff.apply.map(bindingKey));
    for (const binding of desired) {
      const key = bindingKey(binding);
      if (applied.has(key) || !pending.has(key))
        this.#lastApplied.set(
          key,
          binding.subjects.map((s) => s.name),
        );
    }
    const done: SubjectChange[] = diff.changes.filter((c) => applied.has(`${c.namespace}/${c.roleBinding}`));
    const now = this.#deps.clock().getTime();
    for (const domain of new Set(done.map((c) => c.athenzDomain))) {
      const changedAt = domain ? this.#pendingChanges.get(domain) : undefined;
      if (!domain || !changedAt) continue;
      this.#deps.metrics.propagationDelay.observe(Math.max(0, now - changedAt.getTime()) / 1000);
      this.#pendingChanges.delete(domain);
    }
    this.#reporter.accessChanged(
      mapping,
      done,
      diff.apply.filter((b) => applied.has(bindingKey(b))),
    );
    return firstError;
  }

  async #finalize(mapping: Mapping): Promise<void> {
    if (!mapping.finalizers.includes(FINALIZER)) return;
    const existing = this.#deps.cluster.bindingsOf(mapping.name);
    const changes: SubjectChange[] = [];
    for (const binding of existing) {
      await this.#deps.kube.deleteRoleBinding(binding);
      this.#lastApplied.delete(bindingKey(binding));
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
    this.#reporter.accessChanged(mapping, changes, []);
    await this.#deps.kube.setFinalizers(
      mapping,
      mapping.finalizers.filter((f) => f !== FINALIZER),
    );
  }

  #invalidSpec(mapping: Mapping): { reason: string; message: string } | undefined {
    if (!mapping.spec) return undefined;
    const allowed = this.#deps.config.allowedClusterRoles;
    const refused = mapping.spec.roles.filter((r) => !allowed.has(r.clusterRole)).map((r) => r.clusterRole);
    if (refused.length === 0) return undefined;
    return {
      reason: Reason.ClusterRoleNotAllowed,
      message: `ClusterRole ${[...new Set(refused)].map((r) => JSON.stringify(r)).join(', ')} is not in the operator's allowed list (${[...allowed].join(', ')}); nothing is bound until the spec is fixed`,
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

  /** Forgets what it knew of a deleted mapping (its metrics series). */
  forget(name: string): void {
    const { metrics } = this.#deps;
    metrics.subjects.remove({ mapping: name });
    metrics.lastSync.remove({ mapping: name });
    for (const state of ['selected', 'synced', 'failed']) metrics.namespaces.remove({ mapping: name, state });
  }
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
