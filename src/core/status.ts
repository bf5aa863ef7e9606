import { type Condition, type ConditionInput, ConditionType, Reason, setCondition } from './conditions.ts';

/**
 * The status of one AthenzRoleMapping, computed from what a reconcile found. Pure: the same
 * inputs give the same status, so the controller writes it only when it differs.
 */
export type Mode = 'Active' | 'DryRun' | 'Suspended';

/** Why talking to ZMS failed; `undefined` means the answers were valid. */
export type AthenzFailure =
  | { kind: 'Unavailable' | 'RateLimited' | 'InvalidResponse' | 'Tls'; message: string }
  | undefined;

export interface NamespaceFailure {
  namespace: string;
  reason: string;
  message: string;
}

export interface RoleConflict {
  namespace: string;
  athenzRole: string;
  /** The older mapping that manages this pair. */
  owner: string;
}

export interface PlannedChange {
  action: 'CreateDomain' | 'CreateRole' | 'AddSubject' | 'RemoveSubject' | 'DeleteRoleBinding';
  namespace: string;
  target: string;
  subject?: string;
}

export interface MappingStatus {
  observedGeneration: number;
  mode: Mode;
  conditions: Condition[];
  namespaces: { selected: number; synced: number; failed: number };
  /** `synced/selected`, for `kubectl get`. */
  namespacesSynced: string;
  subjects: number;
  lastSyncTime?: string;
  failures?: NamespaceFailure[];
  plannedChanges?: PlannedChange[];
}

export const MAX_LISTED_FAILURES = 20;
export const MAX_LISTED_CHANGES = 50;

export interface StatusInput {
  generation: number;
  previous?: Partial<MappingStatus> | undefined;
  now: Date;
  mode: Mode;
  /** Set when the spec cannot be acted on; nothing else is evaluated then. */
  invalidSpec?: { reason: string; message: string } | undefined;
  /** Set when the spec can be acted on only partly (removals only): InvalidSpec and Ready say
   * why, and everything else is evaluated as usual. */
  frozen?: { reason: string; message: string } | undefined;
  selected: number;
  failures: NamespaceFailure[];
  subjects: number;
  athenz: AthenzFailure;
  conflicts: RoleConflict[];
  plannedChanges: PlannedChange[];
  /** This reconcile changed something (a binding, a domain, a role). */
  changed?: boolean;
}

export function computeStatus(input: StatusInput): MappingStatus {
  const { generation, now } = input;
  let conditions = input.previous?.conditions ?? [];
  const set = (c: ConditionInput) => {
    conditions = setCondition(conditions, c, generation, now);
  };
  // With an invalid spec nothing is evaluated: the counts stay as the last valid spec left them.
  const failed = input.invalidSpec ? 0 : input.failures.length;
  const selected = input.invalidSpec ? (input.previous?.namespaces?.selected ?? 0) : input.selected;
  const synced = input.invalidSpec ? (input.previous?.namespaces?.synced ?? 0) : selected - failed;

  const specProblem = input.invalidSpec ?? input.frozen;
  set(
    specProblem
      ? { type: ConditionType.InvalidSpec, status: 'True', ...specProblem }
      : {
          type: ConditionType.InvalidSpec,
          status: 'False',
          reason: Reason.SpecValid,
          message: 'The spec is valid',
        },
  );
  set(readyCondition(input, failed));
  if (!input.invalidSpec && input.mode !== 'Suspended') {
    set(
      input.athenz
        ? {
            type: ConditionType.AthenzReachable,
            status: 'False',
            reason: athenzReason(input.athenz),
            message: input.athenz.message,
          }
        : {
            type: ConditionType.AthenzReachable,
            status: 'True',
            reason: Reason.Reachable,
            message: 'ZMS answered every request',
          },
    );
    set(
      failed > 0 && synced > 0
        ? {
            type: ConditionType.Degraded,
            status: 'True',
            reason: Reason.SomeNamespacesFailed,
            message: `${failed} of ${input.selected} namespaces failed`,
          }
        : failed > 0
          ? {
              type: ConditionType.Degraded,
              status: 'False',
              reason: Reason.NamespacesFailed,
              message: 'Every selected namespace failed: see Ready',
            }
          : {
              type: ConditionType.Degraded,
              status: 'False',
              reason: Reason.AllNamespacesSynced,
              message: 'No partial failure',
            },
    );
    set(conflictCondition(input.conflicts));
  }

  const status: MappingStatus = {
    observedGeneration: generation,
    mode: input.mode,
    conditions,
    namespaces: { selected, synced, failed },
    namespacesSynced: `${synced}/${selected}`,
    subjects: input.subjects,
  };
  // lastSyncTime moves when the mapping becomes synced or a change was applied, not on every
  // reconcile that found nothing to do: otherwise each status write would trigger the next.
  const synchronized = !specProblem && input.mode === 'Active' && failed === 0 && !input.athenz;
  const wasReady = input.previous?.conditions?.some(
    (c) => c.type === ConditionType.Ready && c.status === 'True',
  );
  const refresh = synchronized && (input.changed || !wasReady || !input.previous?.lastSyncTime);
  const lastSyncTime = refresh ? now.toISOString().replace(/\.\d{3}Z$/, 'Z') : input.previous?.lastSyncTime;
  if (lastSyncTime) status.lastSyncTime = lastSyncTime;
  if (failed > 0) status.failures = input.failures.slice(0, MAX_LISTED_FAILURES);
  if (input.mode === 'DryRun' && input.plannedChanges.length > 0) {
    status.plannedChanges = input.plannedChanges.slice(0, MAX_LISTED_CHANGES);
  }
  return status;
}

function readyCondition(input: StatusInput, failed: number): ConditionInput {
  const type = ConditionType.Ready;
  if (input.invalidSpec)
    return { type, status: 'False', reason: input.invalidSpec.reason, message: input.invalidSpec.message };
  if (input.frozen && input.mode !== 'Suspended') {
    return { type, status: 'False', reason: input.frozen.reason, message: input.frozen.message };
  }
  if (input.mode === 'Suspended') {
    return {
      type,
      status: 'Unknown',
      reason: Reason.Suspended,
      message: 'spec.suspend is true: nothing is synced',
    };
  }
  if (failed > 0) {
    const names = input.failures.slice(0, 5).map((f) => `${f.namespace} (${f.reason})`);
    const more = failed > names.length ? ` and ${failed - names.length} more` : '';
    return {
      type,
      status: 'False',
      reason: Reason.NamespacesFailed,
      message: `Not synced: ${names.join(', ')}${more}`,
    };
  }
  if (input.athenz && input.mode === 'Active') {
    // Without ZMS nothing can be confirmed in sync, though every namespace read from the cache.
    return {
      type,
      status: 'False',
      reason: athenzReason(input.athenz),
      message: `ZMS cannot be reached (${input.athenz.message}): bindings are kept as last synced, and only expired members are removed`,
    };
  }
  if (input.mode === 'DryRun') {
    const n = input.plannedChanges.length;
    return n === 0
      ? { type, status: 'True', reason: Reason.DryRun, message: 'Dry run: everything already matches Athenz' }
      : {
          type,
          status: 'False',
          reason: Reason.DryRun,
          message: `Dry run: ${n} changes planned, none written (see status.plannedChanges)`,
        };
  }
  if (input.selected === 0) {
    return {
      type,
      status: 'True',
      reason: Reason.NoNamespacesSelected,
      message: 'No namespace matches the selector',
    };
  }
  return {
    type,
    status: 'True',
    reason: Reason.Synced,
    message: `${input.selected} namespaces in sync with Athenz`,
  };
}

function athenzReason(failure: NonNullable<AthenzFailure>): string {
  switch (failure.kind) {
    case 'RateLimited':
      return Reason.ZmsRateLimited;
    case 'InvalidResponse':
      return Reason.ZmsInvalidResponse;
    case 'Tls':
      return Reason.ZmsTlsError;
    default:
      return Reason.ZmsUnavailable;
  }
}

function conflictCondition(conflicts: RoleConflict[]): ConditionInput {
  if (conflicts.length === 0) {
    return {
      type: ConditionType.Conflict,
      status: 'False',
      reason: Reason.NoConflict,
      message: 'No other mapping manages these roles',
    };
  }
  const listed = conflicts
    .slice(0, 10)
    .map((c) => `${c.namespace}/${c.athenzRole} (managed by ${c.owner})`)
    .join(', ');
  const more = conflicts.length > 10 ? ` and ${conflicts.length - 10} more` : '';
  return {
    type: ConditionType.Conflict,
    status: 'True',
    reason: Reason.RolesClaimedByOlderMapping,
    message: `Left to an older mapping: ${listed}${more}`,
  };
}
