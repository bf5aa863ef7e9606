import type { RoleConflict } from './status.ts';

/**
 * Which mapping manages each (namespace, Athenz role) pair when several select the same
 * namespace and name the same role: the oldest mapping (by creation time, then name) wins; the
 * others report a Conflict and leave the pair alone.
 */
export interface MappingClaim {
  name: string;
  creationTimestamp: Date;
  namespaces: readonly string[];
  athenzRoles: readonly string[];
}

export function resolveConflicts(
  self: MappingClaim,
  others: readonly MappingClaim[],
): { conflicts: RoleConflict[]; lost: (namespace: string, athenzRole: string) => boolean } {
  // Oldest first, so each pair is attributed to the mapping that actually manages it.
  const older = others
    .filter((o) => o.name !== self.name && isOlder(o, self))
    .sort((a, b) => (isOlder(a, b) ? -1 : isOlder(b, a) ? 1 : 0));
  const lostPairs = new Map<string, string>();
  for (const other of older) {
    const namespaces = new Set(other.namespaces);
    for (const namespace of self.namespaces) {
      if (!namespaces.has(namespace)) continue;
      for (const role of self.athenzRoles) {
        const key = `${namespace}\u0000${role}`;
        if (other.athenzRoles.includes(role) && !lostPairs.has(key)) lostPairs.set(key, other.name);
      }
    }
  }
  const conflicts = [...lostPairs.entries()]
    .map(([key, owner]) => {
      const [namespace, athenzRole] = key.split('\u0000') as [string, string];
      return { namespace, athenzRole, owner };
    })
    .sort((a, b) => a.namespace.localeCompare(b.namespace) || a.athenzRole.localeCompare(b.athenzRole));
  return { conflicts, lost: (namespace, athenzRole) => lostPairs.has(`${namespace}\u0000${athenzRole}`) };
}

function isOlder(a: MappingClaim, b: MappingClaim): boolean {
  const dt = a.creationTimestamp.getTime() - b.creationTimestamp.getTime();
  return dt < 0 || (dt === 0 && a.name < b.name);
}
