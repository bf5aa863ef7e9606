import { describe, expect, it } from '@jest/globals';
import { isUpToDate, roleBindingManifest, subjectNames } from '../../../src/core/bindings.ts';
import {
  ATHENZ_DOMAIN_ANNOTATION,
  ATHENZ_ROLE_ANNOTATION,
  MANAGED_BY_LABEL,
  MAPPING_LABEL,
} from '../../../src/core/labels.ts';
import {
  desired,
  type ExistingEdit,
  existing,
  MAPPING,
  OTHER_MAPPING,
  withAnnotations,
  withLabels,
  withOwners,
  withoutAnnotation,
  withoutLabel,
  withRoleRef,
  withSubjectList,
  withSubjects,
} from '../../support/fixtures/bindings.ts';

describe('roleBindingManifest', () => {
  it('carries the labels, annotations, owner, roleRef and subjects the operator owns', () => {
    const binding = desired({
      namespace: 'team-a',
      athenzRole: 'k8s-ns-admins',
      clusterRole: 'admin',
      subjects: ['user.alice', 'user.bob'],
    });
    expect(roleBindingManifest(binding)).toEqual({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: {
        name: 'athenz.k8s-ns-admins.admin',
        namespace: 'team-a',
        labels: {
          'app.kubernetes.io/managed-by': 'athenz-rbac-operator',
          'rbac.athenz.io/mapping': 'team-a',
        },
        annotations: {
          'rbac.athenz.io/athenz-domain': 'eks.users.team-a',
          'rbac.athenz.io/athenz-role': 'k8s-ns-admins',
        },
        ownerReferences: [
          {
            apiVersion: 'rbac.athenz.io/v1alpha1',
            kind: 'AthenzRoleMapping',
            name: 'team-a',
            uid: MAPPING.uid,
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'admin' },
      subjects: [
        { kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'user.alice' },
        { kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'user.bob' },
      ],
    });
  });

  it('names the binding after the role and ClusterRole, and the owner after the mapping', () => {
    const manifest = roleBindingManifest(
      desired({ athenzRole: 'k8s_viewers', clusterRole: 'view', mapping: OTHER_MAPPING }),
    );
    expect(manifest.metadata.name).toMatch(/^athenz\.k8s-viewers\.view-[0-9a-f]{8}$/);
    expect(manifest.metadata.labels[MAPPING_LABEL]).toBe('team-b');
    expect(manifest.metadata.ownerReferences.map((o) => [o.name, o.uid])).toEqual([
      ['team-b', OTHER_MAPPING.uid],
    ]);
  });

  it('keeps an empty subject list (a role with no members binds nobody)', () => {
    expect(roleBindingManifest(desired({ subjects: [] })).subjects).toEqual([]);
  });
});

describe('isUpToDate', () => {
  const want = desired({ subjects: ['user.alice', 'user.bob'] });
  const cases: Record<string, [ExistingEdit[], boolean]> = {
    'the object exactly as applied is up to date': [[], true],
    'a foreign label added by someone else is ignored': [[withLabels({ team: 'blue' })], true],
    'a foreign annotation added by someone else is ignored': [
      [withAnnotations({ 'kubectl.kubernetes.io/last-applied-configuration': '{}' })],
      true,
    ],
    'a second owner next to the mapping is ignored': [[withOwners('someone-else', MAPPING.uid)], true],
    'a subject added is drift': [[withSubjects('user.alice', 'user.bob', 'user.mallory')], false],
    'a subject removed is drift': [[withSubjects('user.alice')], false],
    'a subject renamed is drift': [[withSubjects('user.alice', 'user.bobby')], false],
    'no subjects at all is drift': [[withSubjects()], false],
    'the same subjects in another order are re-applied in the planned order': [
      [withSubjects('user.bob', 'user.alice')],
      false,
    ],
    'a subject turned into a Group is drift': [
      [
        withSubjectList([
          { kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'user.alice' },
          { kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: 'user.bob' },
        ]),
      ],
      false,
    ],
    'a subject without its apiGroup is drift': [
      [
        withSubjectList([
          { kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'user.alice' },
          { kind: 'User', name: 'user.bob' },
        ]),
      ],
      false,
    ],
    'a subject with a namespace is drift': [
      [
        withSubjectList([
          { kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'user.alice' },
          { kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'user.bob', namespace: 'x' },
        ]),
      ],
      false,
    ],
    'the managed-by label removed is drift': [[withoutLabel(MANAGED_BY_LABEL)], false],
    'the managed-by label changed is drift': [[withLabels({ [MANAGED_BY_LABEL]: 'helm' })], false],
    'the mapping label removed is drift': [[withoutLabel(MAPPING_LABEL)], false],
    'the mapping label naming another mapping is drift': [[withLabels({ [MAPPING_LABEL]: 'team-b' })], false],
    'the domain annotation changed is drift': [
      [withAnnotations({ [ATHENZ_DOMAIN_ANNOTATION]: 'eks.other' })],
      false,
    ],
    'the role annotation removed is drift': [[withoutAnnotation(ATHENZ_ROLE_ANNOTATION)], false],
    'a roleRef to another ClusterRole is drift': [[withRoleRef({ name: 'cluster-admin' })], false],
    'a roleRef to a namespaced Role of the same name is drift': [[withRoleRef({ kind: 'Role' })], false],
    'a missing owner reference is drift': [[withOwners()], false],
    'an owner reference to another mapping only is drift': [[withOwners(OTHER_MAPPING.uid)], false],
  };
  it.each(Object.entries(cases))('%s', (_title, [edits, upToDate]) => {
    expect(isUpToDate(want, existing(want, ...edits))).toBe(upToDate);
  });

  it('compares against the desired subjects, not the applied ones', () => {
    const before = desired({ subjects: ['user.alice'] });
    const after = desired({ subjects: ['user.alice', 'user.bob'] });
    expect(isUpToDate(after, existing(before))).toBe(false);
    expect(isUpToDate(after, existing(after))).toBe(true);
  });
});

describe('subjectNames', () => {
  it('names User subjects plainly and other kinds with their kind, so removing them is audited', () => {
    const binding = existing(
      desired(),
      withSubjectList([
        { kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'user.bob' },
        { kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: 'system:authenticated' },
        { kind: 'ServiceAccount', name: 'default', namespace: 'team-a' },
        { kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'user.alice' },
      ]),
    );
    expect(subjectNames(binding)).toEqual([
      'user.bob',
      'Group:system:authenticated',
      'ServiceAccount:team-a/default',
      'user.alice',
    ]);
  });
});
