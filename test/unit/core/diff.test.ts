import { describe, expect, it } from '@jest/globals';
import type { DesiredRoleBinding, ExistingRoleBinding } from '../../../src/core/bindings.ts';
import { bindingKey, type ChangeReason, diffRoleBindings } from '../../../src/core/diff.ts';
import { MAPPING_LABEL } from '../../../src/core/labels.ts';
import {
  type ContextOptions,
  desired,
  diffContext,
  existing,
  withLabels,
  withoutLabel,
  withSubjects,
} from '../../support/fixtures/bindings.ts';

const ADMINS = 'team-a/athenz.k8s-ns-admins.admin';
const alice = ['user.alice'];
const aliceBob = ['user.alice', 'user.bob'];

interface Case {
  desired: DesiredRoleBinding[];
  existing: ExistingRoleBinding[];
  context?: ContextOptions;
  /** Keys (`<ns>/<name>`) of the bindings applied, then removed. */
  apply: string[];
  remove: string[];
  /** [action, subject, reason, binding key], in the order the diff reports them. */
  changes: Array<['add' | 'remove', string, ChangeReason, string]>;
}

const cases: Record<string, Case> = {
  'nothing desired and nothing existing is a no-op': {
    desired: [],
    existing: [],
    apply: [],
    remove: [],
    changes: [],
  },
  'a missing binding is created and every subject is MemberAdded': {
    desired: [desired({ subjects: aliceBob })],
    existing: [],
    apply: [ADMINS],
    remove: [],
    changes: [
      ['add', 'user.alice', 'MemberAdded', ADMINS],
      ['add', 'user.bob', 'MemberAdded', ADMINS],
    ],
  },
  'a binding that is up to date is left alone': {
    desired: [desired({ subjects: aliceBob })],
    existing: [existing(desired({ subjects: aliceBob }))],
    apply: [],
    remove: [],
    changes: [],
  },
  'a foreign label on an otherwise current binding changes nothing': {
    desired: [desired({ subjects: aliceBob })],
    existing: [existing(desired({ subjects: aliceBob }), withLabels({ team: 'blue' }))],
    apply: [],
    remove: [],
    changes: [],
  },
  'a new Athenz member updates the binding in place': {
    desired: [desired({ subjects: aliceBob })],
    existing: [existing(desired({ subjects: alice }))],
    apply: [ADMINS],
    remove: [],
    changes: [['add', 'user.bob', 'MemberAdded', ADMINS]],
  },
  'a member gone from Athenz is MemberRemoved': {
    desired: [desired({ subjects: alice })],
    existing: [existing(desired({ subjects: aliceBob }))],
    apply: [ADMINS],
    remove: [],
    changes: [['remove', 'user.bob', 'MemberRemoved', ADMINS]],
  },
  'a member whose membership expired is MemberExpired': {
    desired: [desired({ subjects: alice })],
    existing: [existing(desired({ subjects: aliceBob }))],
    context: { expired: { [ADMINS]: ['user.bob'] } },
    apply: [ADMINS],
    remove: [],
    changes: [['remove', 'user.bob', 'MemberExpired', ADMINS]],
  },
  'an expiry recorded for another binding does not count': {
    desired: [desired({ subjects: alice })],
    existing: [existing(desired({ subjects: aliceBob }))],
    context: { expired: { 'team-a/athenz.other.admin': ['user.bob'] } },
    apply: [ADMINS],
    remove: [],
    changes: [['remove', 'user.bob', 'MemberRemoved', ADMINS]],
  },
  'a member added and another removed in one reconcile': {
    desired: [desired({ subjects: ['user.alice', 'user.carol'] })],
    existing: [existing(desired({ subjects: aliceBob }))],
    apply: [ADMINS],
    remove: [],
    changes: [
      ['add', 'user.carol', 'MemberAdded', ADMINS],
      ['remove', 'user.bob', 'MemberRemoved', ADMINS],
    ],
  },
  'a subject added by hand is removed as DriftRepaired': {
    desired: [desired({ subjects: alice })],
    existing: [existing(desired({ subjects: alice }), withSubjects('user.alice', 'user.mallory'))],
    context: { lastApplied: { [ADMINS]: alice } },
    apply: [ADMINS],
    remove: [],
    changes: [['remove', 'user.mallory', 'DriftRepaired', ADMINS]],
  },
  'a subject removed by hand is restored as DriftRepaired': {
    desired: [desired({ subjects: aliceBob })],
    existing: [existing(desired({ subjects: aliceBob }), withSubjects('user.alice'))],
    context: { lastApplied: { [ADMINS]: aliceBob } },
    apply: [ADMINS],
    remove: [],
    changes: [['add', 'user.bob', 'DriftRepaired', ADMINS]],
  },
  'a subject renamed by hand is repaired both ways as DriftRepaired': {
    desired: [desired({ subjects: aliceBob })],
    existing: [existing(desired({ subjects: aliceBob }), withSubjects('user.alice', 'user.bobby'))],
    context: { lastApplied: { [ADMINS]: aliceBob } },
    apply: [ADMINS],
    remove: [],
    changes: [
      ['add', 'user.bob', 'DriftRepaired', ADMINS],
      ['remove', 'user.bobby', 'DriftRepaired', ADMINS],
    ],
  },
  'only an existing binding can drift: one deleted by hand is re-created as MemberAdded': {
    desired: [desired({ subjects: alice })],
    existing: [],
    context: { lastApplied: { [ADMINS]: alice } },
    apply: [ADMINS],
    remove: [],
    changes: [['add', 'user.alice', 'MemberAdded', ADMINS]],
  },
  'without a record of the last apply an extra subject is MemberRemoved': {
    desired: [desired({ subjects: alice })],
    existing: [existing(desired({ subjects: alice }), withSubjects('user.alice', 'user.mallory'))],
    apply: [ADMINS],
    remove: [],
    changes: [['remove', 'user.mallory', 'MemberRemoved', ADMINS]],
  },
  'a member removed in Athenz while the binding drifted is still MemberRemoved': {
    desired: [desired({ subjects: alice })],
    existing: [
      existing(desired({ subjects: aliceBob }), withSubjects('user.alice', 'user.bob', 'user.mallory')),
    ],
    context: { lastApplied: { [ADMINS]: aliceBob } },
    apply: [ADMINS],
    remove: [],
    changes: [
      ['remove', 'user.bob', 'MemberRemoved', ADMINS],
      ['remove', 'user.mallory', 'DriftRepaired', ADMINS],
    ],
  },
  'a member expired while the binding drifted is still MemberExpired': {
    desired: [desired({ subjects: alice })],
    existing: [
      existing(desired({ subjects: aliceBob }), withSubjects('user.alice', 'user.bob', 'user.mallory')),
    ],
    context: { lastApplied: { [ADMINS]: aliceBob }, expired: { [ADMINS]: ['user.bob'] } },
    apply: [ADMINS],
    remove: [],
    changes: [
      ['remove', 'user.bob', 'MemberExpired', ADMINS],
      ['remove', 'user.mallory', 'DriftRepaired', ADMINS],
    ],
  },
  'subjects that match the last apply are not drift': {
    desired: [desired({ subjects: aliceBob })],
    existing: [existing(desired({ subjects: alice }))],
    context: { lastApplied: { [ADMINS]: alice } },
    apply: [ADMINS],
    remove: [],
    changes: [['add', 'user.bob', 'MemberAdded', ADMINS]],
  },
  'the last apply recorded in another order is not drift': {
    desired: [desired({ subjects: ['user.alice', 'user.bob', 'user.carol'] })],
    existing: [existing(desired({ subjects: aliceBob }))],
    context: { lastApplied: { [ADMINS]: ['user.bob', 'user.alice'] } },
    apply: [ADMINS],
    remove: [],
    changes: [['add', 'user.carol', 'MemberAdded', ADMINS]],
  },
  'a label removed by hand is repaired without a subject change': {
    desired: [desired({ subjects: aliceBob })],
    existing: [existing(desired({ subjects: aliceBob }), withoutLabel(MAPPING_LABEL))],
    apply: [ADMINS],
    remove: [],
    changes: [],
  },
  'a binding no longer desired is removed with the removal reason': {
    desired: [],
    existing: [existing(desired({ subjects: aliceBob }))],
    context: { removalReason: 'NamespaceUnselected' },
    apply: [],
    remove: [ADMINS],
    changes: [
      ['remove', 'user.alice', 'NamespaceUnselected', ADMINS],
      ['remove', 'user.bob', 'NamespaceUnselected', ADMINS],
    ],
  },
  'the removal reason is decided per binding': {
    desired: [],
    existing: [
      existing(desired({ namespace: 'gone', subjects: alice })),
      existing(desired({ namespace: 'team-a', athenzRole: 'unmapped', subjects: alice })),
    ],
    context: { removalReason: (b) => (b.namespace === 'gone' ? 'NamespaceUnselected' : 'RoleUnmapped') },
    apply: [],
    remove: ['gone/athenz.k8s-ns-admins.admin', 'team-a/athenz.unmapped.admin'],
    changes: [
      ['remove', 'user.alice', 'NamespaceUnselected', 'gone/athenz.k8s-ns-admins.admin'],
      ['remove', 'user.alice', 'RoleUnmapped', 'team-a/athenz.unmapped.admin'],
    ],
  },
  'a removed binding with no subjects reports no subject change': {
    desired: [],
    existing: [existing(desired({ subjects: [] }))],
    context: { removalReason: 'MappingDeleted' },
    apply: [],
    remove: [ADMINS],
    changes: [],
  },
  'keep protects an undesired binding in a namespace that failed (fail static)': {
    desired: [desired({ namespace: 'healthy', subjects: alice })],
    existing: [
      existing(desired({ namespace: 'healthy', subjects: alice })),
      existing(desired({ namespace: 'failing', subjects: aliceBob })),
    ],
    context: { keep: (b) => b.namespace === 'failing' },
    apply: [],
    remove: [],
    changes: [],
  },
  'keep protects only what it names': {
    desired: [],
    existing: [
      existing(desired({ namespace: 'failing', subjects: alice })),
      existing(desired({ namespace: 'unselected', subjects: alice })),
    ],
    context: { keep: (b) => b.namespace === 'failing', removalReason: 'NamespaceUnselected' },
    apply: [],
    remove: ['unselected/athenz.k8s-ns-admins.admin'],
    changes: [['remove', 'user.alice', 'NamespaceUnselected', 'unselected/athenz.k8s-ns-admins.admin']],
  },
  'keep does not stop a desired binding from being updated': {
    desired: [desired({ subjects: aliceBob })],
    existing: [existing(desired({ subjects: alice }))],
    context: { keep: () => true },
    apply: [ADMINS],
    remove: [],
    changes: [['add', 'user.bob', 'MemberAdded', ADMINS]],
  },
  'a ClusterRole change creates the new binding and removes the old one': {
    desired: [desired({ clusterRole: 'edit', subjects: alice })],
    existing: [existing(desired({ clusterRole: 'admin', subjects: alice }))],
    context: { removalReason: 'ClusterRoleChanged' },
    apply: ['team-a/athenz.k8s-ns-admins.edit'],
    remove: [ADMINS],
    changes: [
      ['add', 'user.alice', 'MemberAdded', 'team-a/athenz.k8s-ns-admins.edit'],
      ['remove', 'user.alice', 'ClusterRoleChanged', ADMINS],
    ],
  },
  'the same name in another namespace is another binding': {
    desired: [desired({ namespace: 'team-a', subjects: alice })],
    existing: [existing(desired({ namespace: 'team-b', subjects: alice }))],
    apply: [ADMINS],
    remove: ['team-b/athenz.k8s-ns-admins.admin'],
    changes: [
      ['add', 'user.alice', 'MemberAdded', ADMINS],
      ['remove', 'user.alice', 'RoleUnmapped', 'team-b/athenz.k8s-ns-admins.admin'],
    ],
  },
};

describe('diffRoleBindings', () => {
  it.each(Object.entries(cases))('%s', (_title, c) => {
    const diff = diffRoleBindings(c.desired, c.existing, diffContext(c.context));
    expect(diff.apply.map(bindingKey)).toEqual(c.apply);
    expect(diff.remove.map(bindingKey)).toEqual(c.remove);
    expect(
      diff.changes.map((ch) => [
        ch.action,
        ch.subject,
        ch.reason,
        bindingKey({ namespace: ch.namespace, name: ch.roleBinding }),
      ]),
    ).toEqual(c.changes);
  });

  it('applies the desired binding itself, subjects and all', () => {
    const want = desired({ subjects: aliceBob });
    const diff = diffRoleBindings([want], [existing(desired({ subjects: alice }))], diffContext());
    expect(diff.apply).toEqual([want]);
  });

  it('names the Athenz domain and role on changes to an applied binding', () => {
    const diff = diffRoleBindings([desired({ namespace: 'team-a', subjects: alice })], [], diffContext());
    expect(diff.changes).toEqual([
      {
        action: 'add',
        subject: 'user.alice',
        namespace: 'team-a',
        roleBinding: 'athenz.k8s-ns-admins.admin',
        athenzDomain: 'eks.users.team-a',
        athenzRole: 'k8s-ns-admins',
        reason: 'MemberAdded',
      },
    ]);
  });

  it('removes an undesired binding by namespace and name, naming its Athenz role', () => {
    const diff = diffRoleBindings([], [existing(desired({ subjects: alice }))], diffContext());
    expect(diff.remove).toEqual([
      { namespace: 'team-a', name: 'athenz.k8s-ns-admins.admin', athenzRole: 'k8s-ns-admins' },
    ]);
    expect(diff.changes).toEqual([
      {
        action: 'remove',
        subject: 'user.alice',
        namespace: 'team-a',
        roleBinding: 'athenz.k8s-ns-admins.admin',
        reason: 'RoleUnmapped',
      },
    ]);
  });

  it('asks keep and removalReason about the existing binding itself', () => {
    const old = existing(desired({ subjects: alice }));
    const asked: ExistingRoleBinding[] = [];
    diffRoleBindings(
      [],
      [old],
      diffContext({
        keep: (b) => {
          asked.push(b);
          return false;
        },
        removalReason: (b) => {
          asked.push(b);
          return 'MappingDeleted';
        },
      }),
    );
    expect(asked).toEqual([old, old]);
  });
});

describe('diffRoleBindings tells a repair from a new member', () => {
  it('calls an add a new member even while it repairs a hand edit of the same binding', () => {
    const want = desired({ subjects: ['user.alice', 'user.bob'] });
    const have = existing(want, withSubjects('user.alice', 'user.mallory'));
    const diff = diffRoleBindings([want], [have], diffContext({ lastApplied: { [ADMINS]: ['user.alice'] } }));
    expect(diff.changes.map((c) => [c.action, c.subject, c.reason])).toEqual([
      ['add', 'user.bob', 'MemberAdded'],
      ['remove', 'user.mallory', 'DriftRepaired'],
    ]);
  });
});
