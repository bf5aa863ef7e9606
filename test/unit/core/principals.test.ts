import { describe, expect, it } from '@jest/globals';
import { classifyMember, type PrincipalKind } from '../../../src/core/principals.ts';

describe('classifyMember follows the ZMS principal rules', () => {
  const cases: Array<[string, string, PrincipalKind]> = [
    ['a user has exactly one dot after "user"', 'user.alice', 'user'],
    ['a user name may hold dashes and underscores', 'user.jane_doe-2', 'user'],
    ['a name with two dots under user is a service', 'user.alice.svc', 'service'],
    ['a service splits at the last dot', 'sports.api', 'service'],
    ['a service in a nested domain', 'eks.users.team-a.deployer', 'service'],
    ['the lone star is everyone', '*', 'wildcard'],
    ['user.* is a wildcard', 'user.*', 'wildcard'],
    ['a trailing star is a prefix wildcard', 'sports.api*', 'wildcard'],
    ['a domain star is a wildcard', 'sports.*', 'wildcard'],
    ['a group is named domain:group.name', 'sports:group.devs', 'group'],
    ['an external principal', 'sports:ext.partner-x', 'external'],
    ['a name without a dot cannot be split into domain and name', 'alice', 'invalid'],
    ['a space is not allowed', 'user.al ice', 'invalid'],
    ['an empty name', '', 'invalid'],
    ['a star in the middle', 'user.a*b', 'invalid'],
  ];
  it.each(cases)('%s (%s)', (_title, name, kind) => {
    expect(classifyMember(name)).toBe(kind);
  });
});
