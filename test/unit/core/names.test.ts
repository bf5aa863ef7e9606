import { describe, expect, it } from '@jest/globals';
import { namespaceForDomain, roleBindingName, subdomainFor } from '../../../src/core/names.ts';

/** What the brief (and the API server, for names in this shape) accepts as an object name. */
const VALID_OBJECT_NAME = /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/;
const HASHED = /-[0-9a-f]{8}$/;

describe('subdomainFor', () => {
  it('puts the namespace one level below the parent domain', () => {
    expect(subdomainFor('eks.users', 'team-a')).toEqual({ domain: 'eks.users.team-a' });
  });

  it('accepts a domain of exactly 128 characters', () => {
    const parent = 'p'.repeat(100);
    const namespace = 'n'.repeat(27);
    const result = subdomainFor(parent, namespace);
    expect(result).toEqual({ domain: `${parent}.${namespace}` });
    expect('domain' in result && result.domain.length).toBe(128);
  });

  it('refuses a domain of 129 characters and says which one and why', () => {
    const parent = 'p'.repeat(100);
    const namespace = 'n'.repeat(28);
    const result = subdomainFor(parent, namespace);
    expect('domain' in result).toBe(false);
    expect('error' in result && result.error).toBe(
      `Athenz domain ${parent}.${namespace} is longer than 128 characters`,
    );
  });
});

describe('namespaceForDomain', () => {
  const cases: Array<[string, string, string, string | undefined]> = [
    ['a direct subdomain maps to its namespace', 'eks.users', 'eks.users.team-a', 'team-a'],
    ['a single-label parent works too', 'eks', 'eks.team-a', 'team-a'],
    ['the parent itself maps to nothing', 'eks.users', 'eks.users', undefined],
    ['a trailing dot with nothing after it maps to nothing', 'eks.users', 'eks.users.', undefined],
    ['a nested subdomain maps to nothing', 'eks.users', 'eks.users.a.b', undefined],
    ['a sibling that shares the prefix maps to nothing', 'eks.users', 'eks.usersx.a', undefined],
    ['a domain holding the parent further in maps to nothing', 'eks.users', 'x.eks.users.a', undefined],
    ['an unrelated domain maps to nothing', 'eks.users', 'sports.api', undefined],
    ['the parent of the parent maps to nothing', 'eks.users', 'eks', undefined],
  ];
  it.each(cases)('%s (%s, %s)', (_title, parent, domain, namespace) => {
    expect(namespaceForDomain(parent, domain)).toBe(namespace);
  });

  it('inverts subdomainFor', () => {
    const result = subdomainFor('eks.users', 'team-a');
    expect('domain' in result && namespaceForDomain('eks.users', result.domain)).toBe('team-a');
  });
});

describe('roleBindingName', () => {
  const readable: Array<[string, string, string, string]> = [
    ['plain names are kept as they are', 'k8s-ns-admins', 'admin', 'athenz.k8s-ns-admins.admin'],
    ['digits are plain', 'r2', 'view2', 'athenz.r2.view2'],
  ];
  it.each(readable)('%s (%s, %s)', (_title, role, clusterRole, name) => {
    expect(roleBindingName(role, clusterRole)).toBe(name);
  });

  const hashed: Array<[string, string, string, string]> = [
    ['an underscore becomes a dash and adds a hash', 'k8s_ns_admins', 'admin', 'athenz.k8s-ns-admins.admin'],
    [
      'a colon becomes a dash and adds a hash',
      'viewers',
      'system:aggregate-to-view',
      'athenz.viewers.system-aggregate-to-view',
    ],
    ['upper case is lowered and adds a hash', 'Admins', 'Admin', 'athenz.admins.admin'],
    ['a dot in the role adds a hash', 'a.b', 'c', 'athenz.a.b.c'],
    ['a dot in the ClusterRole adds a hash', 'a', 'b.c', 'athenz.a.b.c'],
    ['a ClusterRole ending in a dash adds a hash and loses the dash', 'r', 'edit-', 'athenz.r.edit'],
    ['an empty ClusterRole cannot end the name and adds a hash', 'r', '', 'athenz.r'],
  ];
  it.each(hashed)('%s (%s, %s)', (_title, role, clusterRole, prefix) => {
    const name = roleBindingName(role, clusterRole);
    expect(name).toMatch(HASHED);
    expect(name.slice(0, -9)).toBe(prefix);
    expect(name).toMatch(VALID_OBJECT_NAME);
  });

  const distinct: Array<[string, [string, string], [string, string]]> = [
    ['a dot moved between the two names', ['a.b', 'c'], ['a', 'b.c']],
    ['an underscore and a dash', ['a_b', 'x'], ['a-b', 'x']],
    ['a colon and a dash', ['r', 'system:view'], ['r', 'system-view']],
    ['upper and lower case', ['R', 'admin'], ['r', 'admin']],
    ['a changed ClusterRole', ['r', 'edit'], ['r', 'admin']],
    [
      'two long names that agree on the first 300 characters',
      ['r', `${'c'.repeat(300)}1`],
      ['r', `${'c'.repeat(300)}2`],
    ],
  ];
  it.each(distinct)('tells apart %s', (_title, [roleA, clusterA], [roleB, clusterB]) => {
    expect(roleBindingName(roleA, clusterA)).not.toBe(roleBindingName(roleB, clusterB));
  });

  it('is deterministic', () => {
    expect(roleBindingName('k8s_ns_admins', 'system:view')).toBe(
      roleBindingName('k8s_ns_admins', 'system:view'),
    );
  });

  it('keeps a readable name of exactly 253 characters', () => {
    const role = 'r'.repeat(120);
    const clusterRole = 'c'.repeat(125);
    expect(roleBindingName(role, clusterRole)).toBe(`athenz.${role}.${clusterRole}`);
    expect(roleBindingName(role, clusterRole)).toHaveLength(253);
  });

  it('shortens a 254-character name to at most 253 with a hash', () => {
    const role = 'r'.repeat(120);
    const clusterRole = 'c'.repeat(126);
    const name = roleBindingName(role, clusterRole);
    expect(name.length).toBeLessThanOrEqual(253);
    expect(name).toMatch(HASHED);
    expect(name.startsWith(`athenz.${role}.ccc`)).toBe(true);
    expect(name).toMatch(VALID_OBJECT_NAME);
  });

  it('trims dots and dashes left at the cut before the hash', () => {
    // The cut at 244 characters lands after the separating dot and six dashes.
    const role = 'r'.repeat(230);
    const name = roleBindingName(role, `${'-'.repeat(14)}admin`);
    expect(name).toBe(`athenz.${role}-${name.slice(-8)}`);
    expect(name).toMatch(VALID_OBJECT_NAME);
  });
});

describe('roleBindingName never collides with a hashed name', () => {
  it('hashes a plain pair whose name ends like a hash suffix', () => {
    expect(roleBindingName('a', 'B')).not.toBe(roleBindingName('a', 'b-b8f5ef6e'));
  });
});
