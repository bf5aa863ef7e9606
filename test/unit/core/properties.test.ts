import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import {
  type DesiredRoleBinding,
  type ExistingRoleBinding,
  isUpToDate,
  subjectNames,
} from '../../../src/core/bindings.ts';
import { bindingKey, type ChangeReason, type DiffContext, diffRoleBindings } from '../../../src/core/diff.ts';
import { MAPPING_LABEL } from '../../../src/core/labels.ts';
import { namespaceForDomain, roleBindingName, subdomainFor } from '../../../src/core/names.ts';
import { computeStatus, type StatusInput } from '../../../src/core/status.ts';
import {
  desired,
  type ExistingEdit,
  existing,
  OTHER_MAPPING,
  withLabels,
  withOwners,
  withoutLabel,
  withRoleRef,
  withSubjects,
} from '../../support/fixtures/bindings.ts';

/** Enough runs to hit the corners of the small domains below; a failure prints its seed and path. */
const runs = { numRuns: 300 };

/** Kubernetes object names in the shape the brief asks for. */
const VALID_OBJECT_NAME = /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/;

/** Strings over the characters that matter to roleBindingName, plus anything at all. */
const nameish = fc.oneof(
  fc.string({ unit: fc.constantFrom(...'abcxyzABZ019-_.:'.split('')), maxLength: 40 }),
  fc.string({ unit: fc.constantFrom(...'ab-.'.split('')), minLength: 100, maxLength: 300 }),
  fc.string({ unit: 'binary', maxLength: 30 }),
);
const plain = fc.stringMatching(/^[a-z0-9-]{0,60}$/);
const dnsLabel = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?$/);
const domain = fc.stringMatching(/^[a-z0-9_][a-z0-9_-]{0,10}(\.[a-z0-9_][a-z0-9_-]{0,10}){0,3}$/);

describe('roleBindingName properties', () => {
  it('is always a valid Kubernetes object name', () => {
    fc.assert(
      fc.property(nameish, nameish, (role, clusterRole) => {
        const name = roleBindingName(role, clusterRole);
        expect(name.length).toBeLessThanOrEqual(253);
        expect(name).toMatch(VALID_OBJECT_NAME);
      }),
      runs,
    );
  });

  it('gives distinct names to distinct (role, ClusterRole) pairs', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.tuple(nameish, nameish), {
          selector: ([r, c]) => `${r}\u0000${c}`,
          minLength: 2,
          maxLength: 30,
        }),
        (pairs) => {
          const names = pairs.map(([r, c]) => roleBindingName(r, c));
          expect(new Set(names).size).toBe(pairs.length);
        },
      ),
      runs,
    );
  });

  it('tells apart pairs that read alike once cleaned', () => {
    // Same cleaned text, different originals: only the hash can keep them apart.
    const confusable = fc.tuple(
      fc.string({ unit: fc.constantFrom('a', '_', ':', '-', 'A'), minLength: 1, maxLength: 12 }),
      fc.string({ unit: fc.constantFrom('a', '_', ':', '-', 'A'), minLength: 1, maxLength: 12 }),
    );
    fc.assert(
      fc.property(confusable, confusable, ([r1, c1], [r2, c2]) => {
        fc.pre(r1 !== r2 || c1 !== c2);
        expect(roleBindingName(r1, c1)).not.toBe(roleBindingName(r2, c2));
      }),
      runs,
    );
  });

  it('is readable, with no hash, when both names are plain and the result fits', () => {
    fc.assert(
      fc.property(plain, plain, (role, clusterRole) => {
        const readable = `athenz.${role}.${clusterRole}`;
        fc.pre(/[a-z0-9]$/.test(clusterRole));
        // A plain name that ends like a hashed one (`-` and 8 hex digits) is hashed on purpose.
        fc.pre(!/-[0-9a-f]{8}$/.test(readable));
        expect(roleBindingName(role, clusterRole)).toBe(readable);
      }),
      runs,
    );
  });
});

describe('subdomain names properties', () => {
  it('namespaceForDomain inverts subdomainFor', () => {
    fc.assert(
      fc.property(domain, dnsLabel, (parent, namespace) => {
        const result = subdomainFor(parent, namespace);
        fc.pre('domain' in result);
        expect('domain' in result && namespaceForDomain(parent, result.domain)).toBe(namespace);
      }),
      runs,
    );
  });

  it('never maps a nested or sibling domain to a namespace', () => {
    fc.assert(
      fc.property(
        domain,
        dnsLabel,
        dnsLabel,
        fc.stringMatching(/^[a-z0-9]{1,5}$/),
        (parent, a, b, suffix) => {
          expect(namespaceForDomain(parent, `${parent}.${a}.${b}`)).toBeUndefined();
          expect(namespaceForDomain(parent, `${parent}${suffix}.${a}`)).toBeUndefined();
        },
      ),
      runs,
    );
  });

  it('subdomainFor refuses exactly the domains longer than 128 characters', () => {
    fc.assert(
      fc.property(domain, fc.integer({ min: 1, max: 150 }), (parent, length) => {
        const result = subdomainFor(parent, 'n'.repeat(length));
        expect('domain' in result).toBe(parent.length + 1 + length <= 128);
      }),
      runs,
    );
  });
});

// ---- diffRoleBindings ----

const NAMESPACES = ['a', 'b', 'c'];
const ROLES = ['admins', 'k8s_viewers', 'ops'];
const CLUSTER_ROLES = ['admin', 'edit', 'system:view'];
const USERS = ['user.alice', 'user.bob', 'user.carol', 'user.dan'];
const REASONS: ChangeReason[] = [
  'NamespaceUnselected',
  'RoleUnmapped',
  'ClusterRoleChanged',
  'MappingDeleted',
];

const bindingSpec = fc.record({
  namespace: fc.constantFrom(...NAMESPACES),
  athenzRole: fc.constantFrom(...ROLES),
  clusterRole: fc.constantFrom(...CLUSTER_ROLES),
  subjects: fc.subarray(USERS),
});
const desiredSet = fc.uniqueArray(bindingSpec.map(desired), { selector: bindingKey, maxLength: 12 });

const edit: fc.Arbitrary<ExistingEdit> = fc.oneof(
  fc.subarray(USERS).map((names) => withSubjects(...names)),
  fc.subarray([...USERS, 'user.mallory']).map((names) => withSubjects(...[...names].reverse())),
  fc.constant(withoutLabel(MAPPING_LABEL)),
  fc.constant(withLabels({ team: 'blue' })),
  fc.constant(withOwners()),
  fc.constant(withOwners(OTHER_MAPPING.uid)),
  fc.constant(withRoleRef({ kind: 'Role' })),
);
const existingSet = fc.uniqueArray(
  fc
    .tuple(bindingSpec, fc.array(edit, { maxLength: 3 }))
    .map(([spec, edits]) => existing(desired(spec), ...edits)),
  { selector: bindingKey, maxLength: 12 },
);
const ALL_KEYS = NAMESPACES.flatMap((ns) =>
  ROLES.flatMap((r) => CLUSTER_ROLES.map((c) => `${ns}/${roleBindingName(r, c)}`)),
);
const context: fc.Arbitrary<DiffContext> = fc
  .record({
    lastApplied: fc.dictionary(fc.constantFrom(...ALL_KEYS), fc.subarray(USERS)),
    expired: fc.dictionary(fc.constantFrom(...ALL_KEYS), fc.subarray(USERS)),
    keptNamespaces: fc.subarray(NAMESPACES),
    keptRoles: fc.subarray(ROLES),
    reason: fc.constantFrom(...REASONS),
  })
  .map((c) => ({
    lastApplied: new Map(Object.entries(c.lastApplied)),
    expired: new Map(Object.entries(c.expired).map(([k, v]) => [k, new Set(v)])),
    removalReason: () => c.reason,
    // A pure predicate of the binding, as fail static and conflicts are.
    keep: (b: ExistingRoleBinding) =>
      c.keptNamespaces.includes(b.namespace) ||
      c.keptRoles.some((r) => b.annotations['rbac.athenz.io/athenz-role'] === r),
  }));

/** Runs a diff against a map of objects: apply creates or replaces, then remove deletes. */
function applyDiff(
  state: readonly ExistingRoleBinding[],
  want: readonly DesiredRoleBinding[],
  ctx: DiffContext,
) {
  const diff = diffRoleBindings(want, state, ctx);
  const result = new Map(state.map((b) => [bindingKey(b), b]));
  for (const binding of diff.apply) result.set(bindingKey(binding), existing(binding));
  for (const ref of diff.remove) result.delete(bindingKey(ref));
  return { diff, result };
}

describe('diffRoleBindings properties', () => {
  it('applying the diff yields the desired bindings plus the kept ones, and nothing else', () => {
    fc.assert(
      fc.property(desiredSet, existingSet, context, (want, have, ctx) => {
        const { result } = applyDiff(have, want, ctx);
        const wanted = new Set(want.map(bindingKey));
        const kept = have.filter((b) => !wanted.has(bindingKey(b)) && ctx.keep(b));
        expect([...result.keys()].sort()).toEqual([...wanted, ...kept.map(bindingKey)].sort());
        for (const binding of want) expect(isUpToDate(binding, result.get(bindingKey(binding))!)).toBe(true);
        for (const binding of kept) expect(result.get(bindingKey(binding))).toBe(binding);
      }),
      runs,
    );
  });

  it('never removes a binding it applies, so nobody loses access in between', () => {
    fc.assert(
      fc.property(desiredSet, existingSet, context, (want, have, ctx) => {
        const diff = diffRoleBindings(want, have, ctx);
        const applied = new Set(diff.apply.map(bindingKey));
        expect(diff.remove.filter((r) => applied.has(bindingKey(r)))).toEqual([]);
      }),
      runs,
    );
  });

  it('is idempotent: the diff against its own result is empty', () => {
    fc.assert(
      fc.property(desiredSet, existingSet, context, (want, have, ctx) => {
        const { result } = applyDiff(have, want, ctx);
        expect(diffRoleBindings(want, [...result.values()], ctx)).toEqual({
          apply: [],
          remove: [],
          changes: [],
        });
      }),
      runs,
    );
  });

  it('reports exactly the subjects that gain or lose access', () => {
    fc.assert(
      fc.property(desiredSet, existingSet, context, (want, have, ctx) => {
        const diff = diffRoleBindings(want, have, ctx);
        const before = new Map(have.map((b) => [bindingKey(b), new Set(subjectNames(b))]));
        const expected: string[] = [];
        for (const binding of diff.apply) {
          const old = before.get(bindingKey(binding)) ?? new Set<string>();
          const now = new Set(subjectNames(binding));
          for (const s of now) if (!old.has(s)) expected.push(`add ${bindingKey(binding)} ${s}`);
          for (const s of old) if (!now.has(s)) expected.push(`remove ${bindingKey(binding)} ${s}`);
        }
        for (const ref of diff.remove) {
          for (const s of before.get(bindingKey(ref)) ?? []) expected.push(`remove ${bindingKey(ref)} ${s}`);
        }
        const reported = diff.changes.map((c) => `${c.action} ${c.namespace}/${c.roleBinding} ${c.subject}`);
        expect(reported.sort()).toEqual(expected.sort());
      }),
      runs,
    );
  });

  it('never throws, whatever it is given', () => {
    const text = fc.string({ maxLength: 8 });
    const anyDesired = fc.record({
      namespace: text,
      name: text,
      mapping: fc.record({ name: text, uid: text }),
      athenzDomain: text,
      athenzRole: text,
      clusterRole: text,
      subjects: fc.array(
        fc.record({
          kind: fc.constant('User' as const),
          apiGroup: fc.constant('rbac.authorization.k8s.io' as const),
          name: text,
        }),
        { maxLength: 4 },
      ),
    });
    const anyExisting = fc.record({
      namespace: text,
      name: text,
      labels: fc.dictionary(text, text),
      annotations: fc.dictionary(text, text),
      roleRef: fc.record({ apiGroup: text, kind: text, name: text }),
      subjects: fc.array(
        fc.record(
          {
            kind: text,
            name: text,
            apiGroup: fc.option(text, { nil: undefined }),
            namespace: fc.option(text, { nil: undefined }),
          },
          { requiredKeys: ['kind', 'name'] },
        ),
        { maxLength: 4 },
      ),
      ownerUids: fc.array(text, { maxLength: 2 }),
    });
    const anyContext = fc.record({
      lastApplied: fc.dictionary(text, fc.array(text, { maxLength: 4 })),
      expired: fc.dictionary(text, fc.array(text, { maxLength: 4 })),
      keep: fc.func(fc.boolean()),
      reason: fc.constantFrom(...REASONS),
    });
    fc.assert(
      fc.property(
        fc.array(anyDesired, { maxLength: 6 }),
        fc.array(anyExisting, { maxLength: 6 }),
        anyContext,
        (want, have, c) => {
          const diff = diffRoleBindings(want, have, {
            lastApplied: new Map(Object.entries(c.lastApplied)),
            expired: new Map(Object.entries(c.expired).map(([k, v]) => [k, new Set(v)])),
            removalReason: () => c.reason,
            keep: c.keep,
          });
          expect(diff.apply.length).toBeLessThanOrEqual(want.length);
          expect(diff.remove.length).toBeLessThanOrEqual(have.length);
        },
      ),
      runs,
    );
  });
});

// ---- computeStatus ----

describe('computeStatus properties', () => {
  const statusInput: fc.Arbitrary<StatusInput> = fc.record({
    generation: fc.integer({ min: 1, max: 100 }),
    changed: fc.option(fc.boolean(), { nil: undefined }),
    now: fc.date({
      min: new Date('2026-01-01T00:00:00Z'),
      max: new Date('2027-01-01T00:00:00Z'),
      noInvalidDate: true,
    }),
    mode: fc.constantFrom('Active' as const, 'DryRun' as const, 'Suspended' as const),
    invalidSpec: fc.option(fc.record({ reason: fc.constant('SpecInvalid'), message: fc.string() }), {
      nil: undefined,
    }),
    selected: fc.integer({ min: 0, max: 40 }),
    failures: fc.array(fc.record({ namespace: fc.string(), reason: fc.string(), message: fc.string() }), {
      maxLength: 30,
    }),
    subjects: fc.nat(),
    athenz: fc.option(
      fc.record({
        kind: fc.constantFrom(
          'Unavailable' as const,
          'RateLimited' as const,
          'InvalidResponse' as const,
          'Tls' as const,
        ),
        message: fc.string(),
      }),
      { nil: undefined },
    ),
    conflicts: fc.array(fc.record({ namespace: fc.string(), athenzRole: fc.string(), owner: fc.string() }), {
      maxLength: 15,
    }),
    plannedChanges: fc.array(
      fc.record({ action: fc.constant('AddSubject' as const), namespace: fc.string(), target: fc.string() }),
      { maxLength: 60 },
    ),
  });

  it('is a fixed point: fed its own output with the same facts, it returns the same status', () => {
    fc.assert(
      fc.property(statusInput, (input) => {
        const first = computeStatus(input);
        expect(computeStatus({ ...input, previous: first })).toEqual(first);
      }),
      runs,
    );
  });

  it('does not change at all when the same facts are reconciled later with nothing to do', () => {
    fc.assert(
      fc.property(statusInput, fc.integer({ min: 1000, max: 86_400_000 }), (input, delay) => {
        const first = computeStatus(input);
        const later = new Date(input.now.getTime() + delay);
        expect(computeStatus({ ...input, previous: first, now: later, changed: false })).toEqual(first);
      }),
      runs,
    );
  });

  it('changes at most lastSyncTime when the same facts are reconciled later with a change', () => {
    fc.assert(
      fc.property(statusInput, fc.integer({ min: 1000, max: 86_400_000 }), (input, delay) => {
        const first = computeStatus(input);
        const again = computeStatus({
          ...input,
          previous: first,
          now: new Date(input.now.getTime() + delay),
          changed: true,
        });
        const { lastSyncTime: _a, ...restAgain } = again;
        const { lastSyncTime: _b, ...restFirst } = first;
        expect(restAgain).toEqual(restFirst);
      }),
      runs,
    );
  });
});
