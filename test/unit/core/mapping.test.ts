import { describe, expect, it } from '@jest/globals';
import { parseDuration } from '../../../src/core/duration.ts';
import { matchesSelector } from '../../../src/core/label-selector.ts';
import { isLabelKey, parseMappingSpec } from '../../../src/core/mapping.ts';

const minimal = { parentDomain: 'eks.users', roles: [{ athenzRole: 'k8s_ns_admins', clusterRole: 'admin' }] };

describe('parseMappingSpec', () => {
  it('applies every default to a minimal spec', () => {
    const result = parseMappingSpec(minimal);
    expect(result).toEqual({
      spec: {
        parentDomain: 'eks.users',
        excludedNamespaces: [],
        domain: { create: true, adminUsers: [], onNamespaceDelete: 'Retain' },
        roles: [{ athenzRole: 'k8s_ns_admins', clusterRole: 'admin' }],
        subjects: { userPrefix: '', services: 'User', groups: 'Expand' },
        syncInterval: 30_000,
        suspend: false,
        dryRun: false,
      },
    });
  });

  it('lowercases Athenz names, as ZMS does', () => {
    const result = parseMappingSpec({ ...minimal, parentDomain: 'EKS.Users' });
    expect('spec' in result && result.spec.parentDomain).toBe('eks.users');
  });

  const rejected: Array<[string, unknown, RegExp]> = [
    ['a missing parent domain', { roles: minimal.roles }, /spec\.parentDomain/],
    ['a parent domain with a colon', { ...minimal, parentDomain: 'eks:users' }, /Athenz domain name/],
    ['no roles', { ...minimal, roles: [] }, /spec\.roles/],
    [
      'a duplicated Athenz role',
      { ...minimal, roles: [...minimal.roles, { athenzRole: 'K8S_NS_ADMINS', clusterRole: 'view' }] },
      /unique/,
    ],
    ['a sync interval under 2s', { ...minimal, syncInterval: '1s' }, /syncInterval "1s"/],
    ['a sync interval over 1h', { ...minimal, syncInterval: '2h' }, /syncInterval "2h"/],
    ['a sync interval that is not a duration', { ...minimal, syncInterval: 'soon' }, /syncInterval "soon"/],
    ['an unknown services mode', { ...minimal, subjects: { services: 'Group' } }, /spec\.subjects\.services/],
  ];
  it.each(rejected)('rejects %s with a message naming the field', (_title, spec, message) => {
    const result = parseMappingSpec(spec);
    expect('error' in result && result.error).toMatch(message);
  });
});

describe('parseDuration', () => {
  it.each([
    ['30s', 30_000],
    ['1m30s', 90_000],
    ['1h', 3_600_000],
    ['500ms', 500],
    ['1.5s', 1500],
  ])('reads %s', (text, ms) => expect(parseDuration(text)).toBe(ms));
  it.each(['', '30', 's', '1d', '-1s', '1 s'])('rejects %j', (text) =>
    expect(parseDuration(text)).toBeUndefined(),
  );
});

describe('matchesSelector', () => {
  const labels = { team: 'a', 'athenz.io/sync': 'true' };
  it.each([
    ['no selector matches everything', undefined, true],
    ['an empty selector matches everything', {}, true],
    ['matchLabels equal', { matchLabels: { team: 'a' } }, true],
    ['matchLabels different', { matchLabels: { team: 'b' } }, false],
    ['In', { matchExpressions: [{ key: 'team', operator: 'In' as const, values: ['a', 'b'] }] }, true],
    [
      'NotIn holds for an absent key',
      { matchExpressions: [{ key: 'x', operator: 'NotIn' as const, values: ['a'] }] },
      true,
    ],
    [
      'NotIn fails on a listed value',
      { matchExpressions: [{ key: 'team', operator: 'NotIn' as const, values: ['a'] }] },
      false,
    ],
    ['Exists', { matchExpressions: [{ key: 'team', operator: 'Exists' as const }] }, true],
    ['DoesNotExist', { matchExpressions: [{ key: 'team', operator: 'DoesNotExist' as const }] }, false],
    [
      'every term must hold',
      { matchLabels: { team: 'a' }, matchExpressions: [{ key: 'x', operator: 'Exists' as const }] },
      false,
    ],
  ])('%s', (_title, selector, expected) => expect(matchesSelector(selector, labels)).toBe(expected));
});

describe('isLabelKey', () => {
  it.each([
    ['team', true],
    ['example.com/team', true],
    ['a.b-c/x_y.z', true],
    ['A', true],
    ['bad key!', false],
    ['', false],
    ['-team', false],
    ['team-', false],
    ['Example.com/team', false],
    ['/team', false],
    ['example.com/', false],
    [`${'a'.repeat(63)}`, true],
    [`${'a'.repeat(64)}`, false],
    [`${'a'.repeat(254)}/x`, false],
  ])('%j is %s', (key, expected) => expect(isLabelKey(key)).toBe(expected));
});

describe('spec values Kubernetes would refuse', () => {
  const base = { parentDomain: 'eks.users', roles: [{ athenzRole: 'viewers', clusterRole: 'view' }] };
  it.each([
    [
      'a label key',
      { namespaceSelector: { matchLabels: { 'bad key!': 'x' } } },
      /"bad key!" is not a valid label key/,
    ],
    [
      'a label value',
      { namespaceSelector: { matchLabels: { team: 'a/b' } } },
      /"a\/b" is not a valid label value/,
    ],
    [
      'an expression value',
      { namespaceSelector: { matchExpressions: [{ key: 'team', operator: 'In', values: ['x y'] }] } },
      /"x y" is not a valid label value/,
    ],
    ['a system: prefix', { subjects: { userPrefix: 'system:node:' } }, /must not start with "system:"/],
    ['a SYSTEM: prefix', { subjects: { userPrefix: 'SYSTEM:' } }, /must not start with "system:"/],
  ])('refuses %s', (_title, extra, message) => {
    const parsed = parseMappingSpec({ ...base, ...extra });
    expect('error' in parsed && parsed.error).toMatch(message);
  });

  it('accepts an empty label value and a prefix that only contains "system"', () => {
    expect('spec' in parseMappingSpec({ ...base, namespaceSelector: { matchLabels: { team: '' } } })).toBe(
      true,
    );
    expect('spec' in parseMappingSpec({ ...base, subjects: { userPrefix: 'athenz-system:' } })).toBe(true);
  });
});
