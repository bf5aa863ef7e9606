import type { Logger } from 'winston';
import type { DesiredRoleBinding } from '../core/bindings.ts';
import type { SubjectChange } from '../core/diff.ts';
import type { NamespaceFailure } from '../core/status.ts';
import type { SkippedMember } from '../core/subjects.ts';
import { describeError } from '../kube/api-error.ts';
import type { KubeWriter, MappingEvent } from '../kube/kube-writer.ts';
import type { Metrics } from '../runtime/metrics.ts';

/**
 * The audit trail: one JSON log line per subject added or removed (principal, namespace,
 * RoleBinding, Athenz domain and role, reason), one Event on the mapping per changed binding,
 * and Warning Events for failures and skipped members.
 *
 * Warnings are aggregated: one per mapping and reason, naming the first few namespaces or
 * members and the count, repeated at most once per `repeatAfterMs`; so 1,000 failing namespaces
 * are one Event, not 1,000. Events are best effort and bounded: at most `maxPendingEvents` wait
 * to be sent; beyond that they are dropped and counted. A failure to record one is logged.
 */
export interface AccessReporterOptions {
  repeatAfterMs?: number;
  maxPendingEvents?: number;
}

type MappingLike = { name: string; uid: string };

const LISTED = 5;

export class AccessReporter {
  readonly #kube: KubeWriter;
  readonly #log: Logger;
  readonly #metrics: Metrics;
  /** When each (mapping uid, reason) warning was last emitted. */
  readonly #warned = new Map<string, { at: number; mapping: string }>();
  readonly #repeatAfterMs: number;
  readonly #maxPending: number;
  #pending = 0;

  constructor(kube: KubeWriter, log: Logger, metrics: Metrics, options: AccessReporterOptions = {}) {
    this.#kube = kube;
    this.#log = log;
    this.#metrics = metrics;
    this.#repeatAfterMs = options.repeatAfterMs ?? 10 * 60_000;
    this.#maxPending = options.maxPendingEvents ?? 100;
  }

  accessChanged(mapping: MappingLike, changes: SubjectChange[], applied: DesiredRoleBinding[]) {
    for (const c of changes) {
      this.#log.info('access changed', {
        mapping: mapping.name,
        action: c.action,
        principal: c.subject,
        namespace: c.namespace,
        roleBinding: c.roleBinding,
        athenzDomain: c.athenzDomain,
        athenzRole: c.athenzRole,
        reason: c.reason,
      });
      this.#metrics.subjectChanges.inc({ action: c.action, reason: c.reason });
      if (c.reason === 'DriftRepaired') this.#metrics.driftRepairs.inc();
    }
    const byBinding = new Map<string, SubjectChange[]>();
    for (const c of changes) {
      const key = `${c.namespace}/${c.roleBinding}`;
      byBinding.set(key, [...(byBinding.get(key) ?? []), c]);
    }
    for (const [key, list] of byBinding) {
      const added = list.filter((c) => c.action === 'add').map((c) => c.subject);
      const removed = list.filter((c) => c.action === 'remove').map((c) => `${c.subject} (${c.reason})`);
      const parts = [
        added.length ? `added ${added.join(', ')}` : '',
        removed.length ? `removed ${removed.join(', ')}` : '',
      ];
      this.#emit({
        mapping,
        type: 'Normal',
        reason: list.some((c) => c.reason === 'DriftRepaired') ? 'DriftRepaired' : 'AccessChanged',
        action: 'UpdateRoleBinding',
        note: `RoleBinding ${key}: ${parts.filter(Boolean).join('; ')}`,
      });
    }
    // A drift repair that changed no subject (labels, roleRef) still deserves a trace.
    for (const b of applied) {
      const key = `${b.namespace}/${b.name}`;
      if (!byBinding.has(key))
        this.#log.info('rolebinding applied', {
          mapping: mapping.name,
          namespace: b.namespace,
          roleBinding: b.name,
        });
    }
  }

  /** One Warning per mapping for every member that has no RBAC equivalent. */
  skippedMembers(
    mapping: MappingLike,
    skipped: Array<SkippedMember & { athenzRole: string; namespace: string }>,
  ) {
    if (skipped.length === 0) return;
    const listed = skipped
      .slice(0, LISTED)
      .map((s) => `${s.namespace}: member ${s.member} of role ${s.athenzRole} (${s.reason})`);
    const more = skipped.length > LISTED ? ` and ${skipped.length - LISTED} more` : '';
    this.warnOnce(
      mapping,
      'MemberSkipped',
      'Sync',
      `${skipped.length} Athenz members have no RBAC equivalent and are not bound: ${listed.join('; ')}${more}`,
    );
  }

  /** One Warning per mapping and failure reason, however many namespaces share it. */
  namespacesFailed(mapping: MappingLike, failures: NamespaceFailure[]) {
    const byReason = new Map<string, NamespaceFailure[]>();
    for (const f of failures) byReason.set(f.reason, [...(byReason.get(f.reason) ?? []), f]);
    for (const [reason, list] of byReason) {
      const listed = list.slice(0, LISTED).map((f) => `${f.namespace}: ${f.message}`);
      const more = list.length > LISTED ? ` and ${list.length - LISTED} more` : '';
      const note =
        list.length === 1 ? listed[0]! : `${list.length} namespaces failed: ${listed.join('; ')}${more}`;
      this.warnOnce(mapping, reason, 'Sync', note);
    }
  }

  warnOnce(mapping: MappingLike, reason: string, action: string, note: string) {
    const key = `${mapping.uid}\u0000${reason}`;
    const now = Date.now();
    const last = this.#warned.get(key);
    if (last !== undefined && now - last.at < this.#repeatAfterMs) return;
    this.#warned.set(key, { at: now, mapping: mapping.name });
    this.#log.warn(note, { mapping: mapping.name, reason });
    this.#emit({ mapping, type: 'Warning', reason, action, note });
  }

  normal(mapping: MappingLike, reason: string, action: string, note: string) {
    this.#emit({ mapping, type: 'Normal', reason, action, note });
  }

  /** Drops what it remembers of a deleted mapping. */
  forget(mappingName: string) {
    for (const [key, value] of this.#warned) if (value.mapping === mappingName) this.#warned.delete(key);
  }

  #emit(event: MappingEvent) {
    if (this.#pending >= this.#maxPending) {
      this.#metrics.eventsDropped.inc();
      this.#log.debug('event dropped: too many waiting', {
        mapping: event.mapping.name,
        reason: event.reason,
      });
      return;
    }
    this.#pending++;
    this.#kube
      .recordEvent(event)
      .catch((err: unknown) => {
        this.#log.warn('could not record event', {
          mapping: event.mapping.name,
          reason: event.reason,
          error: describeError(err),
        });
      })
      .finally(() => {
        this.#pending--;
      });
  }
}
