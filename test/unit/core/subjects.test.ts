import { describe, expect, it } from '@jest/globals';
import { planSubjects, type SubjectOptions } from '../../../src/core/subjects.ts';
import type { RoleMember } from '../../../src/zms/schemas.ts';
import { disabled, expiresAt, inactive, member, pending } from '../../support/fixtures/members.ts';

const now = new Date('2026-06-01T12:00:00.000Z');
const later = '2026-06-01T13:00:00.000Z';
const soon = '2026-06-01T12:00:05.000Z';
const past = '2026-06-01T11:59:59.999Z';
const defaults: SubjectOptions = { userPrefix: '', services: 'User', groups: 'Expand' };

interface Case {
  members: RoleMember[];
  groups?: Record<string, RoleMember[]>;
  options?: Partial<SubjectOptions>;
  subjects: string[];
  skipped?: Array<[string, string]>;
  nextExpiry?: string;
}

const cases: Record<string, Case> = {
  'a plain user becomes a User subject': { members: [member('user.alice')], subjects: ['user.alice'] },
  'the user prefix is prepended': {
    members: [member('user.alice')],
    options: { userPrefix: 'athenz:' },
    subjects: ['athenz:user.alice'],
  },
  'an expired member is dropped': { members: [member('user.old', expiresAt(past))], subjects: [] },
  'a member expiring exactly now is dropped': {
    members: [member('user.edge', expiresAt(now))],
    subjects: [],
  },
  'a member expiring later stays and sets the next expiry': {
    members: [member('user.temp', expiresAt(soon)), member('user.perm')],
    subjects: ['user.perm', 'user.temp'],
    nextExpiry: soon,
  },
  'a system-disabled member is dropped': { members: [member('user.off', disabled)], subjects: [] },
  'an inactive member is dropped': { members: [member('user.off', inactive)], subjects: [] },
  'a pending member is dropped': { members: [member('user.wait', pending)], subjects: [] },
  'a service becomes a User subject by default': {
    members: [member('sports.api')],
    subjects: ['sports.api'],
  },
  'services are skipped when configured': {
    members: [member('sports.api')],
    options: { services: 'Skip' },
    subjects: [],
    skipped: [['sports.api', 'ServiceSkipped']],
  },
  'wildcards are skipped with a reason': {
    members: [member('*'), member('user.*'), member('sports.api*')],
    subjects: [],
    skipped: [
      ['*', 'Wildcard'],
      ['sports.api*', 'Wildcard'],
      ['user.*', 'Wildcard'],
    ],
  },
  'an external principal is skipped': {
    members: [member('sports:ext.partner')],
    subjects: [],
    skipped: [['sports:ext.partner', 'External']],
  },
  'a malformed name is skipped': {
    members: [member('alice')],
    subjects: [],
    skipped: [['alice', 'InvalidName']],
  },
  'a group is expanded into its members': {
    members: [member('sports:group.devs')],
    groups: { 'sports:group.devs': [member('user.bob'), member('user.carol')] },
    subjects: ['user.bob', 'user.carol'],
  },
  'a group member expires at the earlier of the group entry and the member': {
    members: [member('sports:group.devs', expiresAt(later))],
    groups: { 'sports:group.devs': [member('user.bob', expiresAt(soon)), member('user.carol')] },
    subjects: ['user.bob', 'user.carol'],
    nextExpiry: soon,
  },
  'an expired group entry grants nobody': {
    members: [member('sports:group.devs', expiresAt(past))],
    groups: { 'sports:group.devs': [member('user.bob')] },
    subjects: [],
  },
  'an expired member inside a group is dropped': {
    members: [member('sports:group.devs')],
    groups: { 'sports:group.devs': [member('user.bob', expiresAt(past)), member('user.carol')] },
    subjects: ['user.carol'],
  },
  'groups are skipped when configured': {
    members: [member('sports:group.devs')],
    groups: { 'sports:group.devs': [member('user.bob')] },
    options: { groups: 'Skip' },
    subjects: [],
    skipped: [['sports:group.devs', 'GroupSkipped']],
  },
  'a group that does not exist is reported': {
    members: [member('sports:group.gone')],
    subjects: [],
    skipped: [['sports:group.gone', 'GroupNotFound']],
  },
  'a principal named directly and through a group appears once, with the longer life': {
    members: [member('user.bob', expiresAt(soon)), member('sports:group.devs')],
    groups: { 'sports:group.devs': [member('user.bob')] },
    subjects: ['user.bob'],
  },
  'names are lowercased, de-duplicated and sorted': {
    members: [member('user.Zed'), member('user.amy'), member('user.zed')],
    subjects: ['user.amy', 'user.zed'],
  },
};

describe('planSubjects', () => {
  it.each(Object.entries(cases))('%s', (_title, c) => {
    const plan = planSubjects(
      c.members,
      new Map(Object.entries(c.groups ?? {})),
      { ...defaults, ...c.options },
      now,
    );
    expect(plan.subjects.map((s) => s.name)).toEqual(c.subjects);
    expect(plan.subjects.every((s) => s.kind === 'User' && s.apiGroup === 'rbac.authorization.k8s.io')).toBe(
      true,
    );
    expect(plan.skipped.map((s) => [s.member, s.reason])).toEqual(c.skipped ?? []);
    expect(plan.nextExpiry?.toISOString()).toBe(
      c.nextExpiry ? new Date(c.nextExpiry).toISOString() : undefined,
    );
  });

  it('names the group a principal came through', () => {
    const plan = planSubjects(
      [member('sports:group.devs')],
      new Map([['sports:group.devs', [member('user.bob')]]]),
      defaults,
      now,
    );
    expect(plan.granted).toEqual([{ principal: 'user.bob', subject: 'user.bob', via: 'sports:group.devs' }]);
  });
});
