import type { Logger } from 'winston';
import type { DesiredRoleBinding } from '../core/bindings.ts';
import type { SubjectChange } from '../core/diff.ts';
import type { SkippedMember } from '../core/subjects.ts';
import { describeError } from '../kube/api-error.ts';
import type { KubeWriter, MappingEvent } from '../kube/kube-writer.ts';
import type { Metrics } from '../runtime/metrics.ts';

/**
 * The audit trail: one JSON log line per subject added or removed (principal, namespace,
 * RoleBinding, Athenz domain and role, reason), one Event on the mapping per changed binding,
 * and Warning Events for failures and skipped members. Warnings repeat at most once per
 * `repeatAfterMs` for the same text, so a lasting outage does not flood the Events API.
 * Events are best effort: a failure to record one is logged, never retried.
 */
export class AccessReporter {
  readonly #kube: KubeWriter;
  readonly #log: Logger;
  readonly #metrics: Metrics;
  readonly #warned = new Map<string, number>();
  readonly #repeatAfterMs: number;

  constructor(kube: KubeWriter, log: Logger, metrics: Metrics, repeatAfterMs = 10 * 60_000) {
    this.#kube = kube;
    this.#log = log;
    this.#metrics = metrics;
    this.#repeatAfterMs = repeatAfterMs;
  }

  accessChanged(
    mapping: { name: string; uid: string },
    changes: SubjectChange[],
    applied: DesiredRoleBinding[],
  ) {
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

  skippedMembers(
    mapping: { name: string; uid: string },
    namespace: string,
    skipped: Array<SkippedMember & { athenzRole: string }>,
  ) {
    for (const s of skipped) {
      this.warnOnce(
        mapping,
        'MemberSkipped',
        'Sync',
        `${namespace}: Athenz member ${s.member} of role ${s.athenzRole} has no RBAC equivalent (${s.reason}); not bound`,
      );
    }
  }

  warnOnce(mapping: { name: string; uid: string }, reason: string, action: string, note: string) {
    const key = `${mapping.uid}\u0000${reason}\u0000${note}`;
    const now = Date.now();
    const last = this.#warned.get(key);
    if (last !== undefined && now - last < this.#repeatAfterMs) return;
    this.#warned.set(key, now);
    this.#log.warn(note, { mapping: mapping.name, reason });
    this.#emit({ mapping, type: 'Warning', reason, action, note });
  }

  #emit(event: MappingEvent) {
    this.#kube.recordEvent(event).catch((err: unknown) => {
      this.#log.warn('could not record event', {
        mapping: event.mapping.name,
        reason: event.reason,
        error: describeError(err),
      });
    });
  }
}
