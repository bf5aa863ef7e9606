import { describe, expect, it } from '@jest/globals';
import { type MappingClaim, resolveConflicts } from '../../../src/core/ownership.ts';

const t0 = new Date('2026-01-01T00:00:00.000Z');
const t1 = new Date('2026-02-01T00:00:00.000Z');
const t2 = new Date('2026-03-01T00:00:00.000Z');

function claim(
  name: string,
  creationTimestamp: Date,
  namespaces: string[] = ['team-a'],
  athenzRoles: string[] = ['k8s-ns-admins'],
): MappingClaim {
  return { name, creationTimestamp, namespaces, athenzRoles };
}

interface Case {
  self: MappingClaim;
  others: MappingClaim[];
  /** [namespace, role, owner] */
  conflicts: Array<[string, string, string]>;
}

const cases: Record<string, Case> = {
  'no other mapping, no conflict': { self: claim('b', t1), others: [], conflicts: [] },
  'an older mapping on the same namespace and role wins': {
    self: claim('b', t1),
    others: [claim('a', t0)],
    conflicts: [['team-a', 'k8s-ns-admins', 'a']],
  },
  'a younger mapping on the same pair loses to us': {
    self: claim('a', t0),
    others: [claim('b', t1)],
    conflicts: [],
  },
  'on a tie of creation time the smaller name wins': {
    self: claim('beta', t0),
    others: [claim('alpha', t0)],
    conflicts: [['team-a', 'k8s-ns-admins', 'alpha']],
  },
  'on a tie of creation time the larger name loses to us': {
    self: claim('alpha', t0),
    others: [claim('beta', t0)],
    conflicts: [],
  },
  'a mapping never conflicts with itself': { self: claim('a', t1), others: [claim('a', t0)], conflicts: [] },
  'the same role in another namespace is no conflict': {
    self: claim('b', t1, ['team-a']),
    others: [claim('a', t0, ['team-b'])],
    conflicts: [],
  },
  'another role in the same namespace is no conflict': {
    self: claim('b', t1, ['team-a'], ['k8s-ns-admins']),
    others: [claim('a', t0, ['team-a'], ['k8s-ns-viewers'])],
    conflicts: [],
  },
  'only the shared pairs conflict': {
    self: claim('b', t1, ['team-a', 'team-b', 'team-c'], ['admins', 'viewers']),
    others: [claim('a', t0, ['team-b', 'team-c', 'team-d'], ['viewers', 'editors'])],
    conflicts: [
      ['team-b', 'viewers', 'a'],
      ['team-c', 'viewers', 'a'],
    ],
  },
  'conflicts with several older mappings are sorted by namespace, then role': {
    self: claim('c', t2, ['team-b', 'team-a'], ['viewers', 'admins']),
    others: [claim('b', t1, ['team-b'], ['viewers', 'admins']), claim('a', t0, ['team-a'], ['viewers'])],
    conflicts: [
      ['team-a', 'viewers', 'a'],
      ['team-b', 'admins', 'b'],
      ['team-b', 'viewers', 'b'],
    ],
  },
  'a mapping that selects nothing conflicts with nothing': {
    self: claim('b', t1, []),
    others: [claim('a', t0)],
    conflicts: [],
  },
};

describe('resolveConflicts', () => {
  it.each(Object.entries(cases))('%s', (_title, c) => {
    const { conflicts } = resolveConflicts(c.self, c.others);
    expect(conflicts.map((x) => [x.namespace, x.athenzRole, x.owner])).toEqual(c.conflicts);
  });

  it.each(Object.entries(cases))('lost() answers exactly for the conflicts: %s', (_title, c) => {
    const { lost } = resolveConflicts(c.self, c.others);
    const expected = new Set(c.conflicts.map(([ns, role]) => `${ns}/${role}`));
    for (const namespace of ['team-a', 'team-b', 'team-c', 'team-d']) {
      for (const role of ['k8s-ns-admins', 'k8s-ns-viewers', 'admins', 'viewers', 'editors']) {
        expect([namespace, role, lost(namespace, role)]).toEqual([
          namespace,
          role,
          expected.has(`${namespace}/${role}`),
        ]);
      }
    }
  });

  it('is symmetric: of two mappings on one pair, exactly one loses', () => {
    const a = claim('a', t1);
    const b = claim('b', t0);
    const aLost = resolveConflicts(a, [b]).lost('team-a', 'k8s-ns-admins');
    const bLost = resolveConflicts(b, [a]).lost('team-a', 'k8s-ns-admins');
    expect([aLost, bLost]).toEqual([true, false]);
  });

  it('does not mistake a role name containing the separator of another pair', () => {
    const { lost } = resolveConflicts(claim('b', t1, ['team-a'], ['x']), [claim('a', t0, ['team-a'], ['x'])]);
    expect(lost('team-a', 'x')).toBe(true);
    expect(lost('team-', 'ax')).toBe(false);
  });
});

describe('resolveConflicts names the manager', () => {
  it('attributes a pair shared by several older mappings to the oldest, whatever their order', () => {
    const c = claim('c', t2);
    const b = claim('b', t1);
    const a = claim('a', t0);
    expect(resolveConflicts(c, [b, a]).conflicts.map((x) => x.owner)).toEqual(['a']);
    expect(resolveConflicts(c, [a, b]).conflicts.map((x) => x.owner)).toEqual(['a']);
  });
});
