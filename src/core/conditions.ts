/**
 * Status conditions shaped like metav1.Condition. `setCondition` moves `lastTransitionTime`
 * only when the status flips, and always records the generation it describes, so a status
 * written twice with the same facts is byte-for-byte the same (and is then not written at all).
 */
export type ConditionStatus = 'True' | 'False' | 'Unknown';

export interface Condition {
  type: string;
  status: ConditionStatus;
  observedGeneration: number;
  lastTransitionTime: string;
  reason: string;
  message: string;
}

export const ConditionType = {
  /** Every selected namespace is in sync with Athenz. */
  Ready: 'Ready',
  /** The last ZMS requests got valid answers. */
  AthenzReachable: 'AthenzReachable',
  /** Some namespaces failed while others synced. */
  Degraded: 'Degraded',
  /** Another, older mapping manages some of the same Athenz roles in the same namespaces. */
  Conflict: 'Conflict',
  /** The spec cannot be acted on; nothing is changed until it is fixed. */
  InvalidSpec: 'InvalidSpec',
} as const;

export const Reason = {
  Synced: 'Synced',
  DryRun: 'DryRun',
  Suspended: 'Suspended',
  NamespacesFailed: 'NamespacesFailed',
  NoNamespacesSelected: 'NoNamespacesSelected',
  Reachable: 'Reachable',
  ZmsUnavailable: 'ZmsUnavailable',
  ZmsRateLimited: 'ZmsRateLimited',
  ZmsInvalidResponse: 'ZmsInvalidResponse',
  ZmsTlsError: 'ZmsTlsError',
  AllNamespacesSynced: 'AllNamespacesSynced',
  SomeNamespacesFailed: 'SomeNamespacesFailed',
  NoConflict: 'NoConflict',
  RolesClaimedByOlderMapping: 'RolesClaimedByOlderMapping',
  SpecValid: 'SpecValid',
  SpecInvalid: 'SpecInvalid',
  ClusterRoleNotAllowed: 'ClusterRoleNotAllowed',
} as const;

export interface ConditionInput {
  type: string;
  status: ConditionStatus;
  reason: string;
  message: string;
}

export function setCondition(
  conditions: readonly Condition[],
  input: ConditionInput,
  generation: number,
  now: Date,
): Condition[] {
  const previous = conditions.find((c) => c.type === input.type);
  const lastTransitionTime =
    previous && previous.status === input.status
      ? previous.lastTransitionTime
      : now.toISOString().replace(/\.\d{3}Z$/, 'Z');
  const next: Condition = { ...input, observedGeneration: generation, lastTransitionTime };
  const rest = conditions.filter((c) => c.type !== input.type);
  return [...rest, next].sort((a, b) => conditionOrder(a.type) - conditionOrder(b.type));
}

const ORDER: string[] = Object.values(ConditionType);
const conditionOrder = (type: string) => {
  const i = ORDER.indexOf(type);
  return i === -1 ? ORDER.length : i;
};

export function findCondition(conditions: readonly Condition[], type: string): Condition | undefined {
  return conditions.find((c) => c.type === type);
}
