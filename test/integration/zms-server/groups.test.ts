import { describe, expect, it } from '@jest/globals';
import { createDomain, ISO_WITH_MILLIS, isoIn, useZmsServer } from './zms-client.ts';

const zms = useZmsServer();

async function freshDomain(fields: Record<string, unknown> = {}): Promise<string> {
  const domain = zms.unique('grp');
  await createDomain(zms.admin, domain, fields);
  return domain;
}

const members = (...names: string[]) => names.map((memberName) => ({ memberName }));

describe('ZMS test server: groups', () => {
  it('PUT creates the group (204) and GET returns it with its members sorted', async () => {
    const domain = await freshDomain();
    const expiration = isoIn(3_600_000);
    const put = await zms.admin.put(`/domain/${domain}/group/devs`, {
      name: 'devs',
      groupMembers: [{ memberName: 'user.zoe', expiration }, { memberName: 'sys.auth.zms' }],
    });
    expect(put.status).toBe(204);
    const answer = await zms.admin.get(`/domain/${domain}/group/devs`);
    expect(answer.status).toBe(200);
    expect(answer.json).toEqual({
      name: `${domain}:group.devs`,
      modified: expect.stringMatching(ISO_WITH_MILLIS),
      groupMembers: [
        { memberName: 'sys.auth.zms', approved: true, requestPrincipal: 'user.athenz_admin' },
        {
          memberName: 'user.zoe',
          expiration: new Date(expiration).toISOString(),
          approved: true,
          requestPrincipal: 'user.athenz_admin',
        },
      ],
    });
  });

  it('PUT replaces the members, and answers 200 with the Group when Athenz-Return-Object is true', async () => {
    const domain = await freshDomain();
    await zms.admin.put(`/domain/${domain}/group/g`, {
      name: 'g',
      groupMembers: members('user.a', 'user.b'),
    });
    const answer = await zms.admin.put(
      `/domain/${domain}/group/g`,
      { name: `${domain}:group.g`, groupMembers: members('user.b', 'user.c') },
      { 'Athenz-Return-Object': 'true' },
    );
    expect(answer.status).toBe(200);
    expect(answer.json.groupMembers.map((m: { memberName: string }) => m.memberName)).toEqual([
      'user.b',
      'user.c',
    ]);
  });

  it('answers 400 to wildcard and group members', async () => {
    const domain = await freshDomain();
    await zms.admin.put(`/domain/${domain}/group/inner`, { name: 'inner', groupMembers: members('user.a') });
    for (const bad of ['*', 'user.*', 'sys.auth.api*', `${domain}:group.inner`]) {
      const answer = await zms.admin.put(`/domain/${domain}/group/g`, {
        name: 'g',
        groupMembers: members(bad),
      });
      expect(answer.status).toBe(400);
      expect(answer.json.code).toBe(400);
    }
  });

  it('answers 404 "getGroup: Group not found: \'<d>:group.<g>\'" for a missing group', async () => {
    const domain = await freshDomain();
    const answer = await zms.admin.get(`/domain/${domain}/group/nosuchgroup`);
    expect(answer.status).toBe(404);
    expect(answer.json).toEqual({
      code: 404,
      message: `getGroup: Group not found: '${domain}:group.nosuchgroup'`,
    });
  });

  it('answers 403 to a caller who is not a domain admin', async () => {
    const domain = await freshDomain();
    const stranger = await zms.as('user.stranger');
    const answer = await stranger.put(`/domain/${domain}/group/g`, {
      name: 'g',
      groupMembers: members('user.a'),
    });
    expect(answer.status).toBe(403);
  });

  it('requires Y-Audit-Ref on an audit-enabled domain', async () => {
    const domain = await freshDomain({ auditEnabled: true });
    const missing = await zms.admin.put(`/domain/${domain}/group/g`, { name: 'g' });
    expect(missing.status).toBe(400);
    expect(missing.json).toEqual({
      code: 400,
      message: `putGroup: Audit reference required for domain: ${domain}`,
    });
  });

  it('answers 429 past 100 members in a group', async () => {
    const domain = await freshDomain();
    const many = Array.from({ length: 101 }, (_, i) => `user.m${i}`);
    const answer = await zms.admin.put(`/domain/${domain}/group/g`, {
      name: 'g',
      groupMembers: members(...many),
    });
    expect(answer.status).toBe(429);
    expect(answer.json.message).toMatch(/quota exceeded/);
  });

  it('answers 429 past 100 groups in a domain', async () => {
    const domain = await freshDomain();
    for (let i = 0; i < 100; i++) {
      const answer = await zms.admin.put(`/domain/${domain}/group/g${i}`, { name: `g${i}` });
      expect(answer.status).toBe(204);
    }
    const answer = await zms.admin.put(`/domain/${domain}/group/onetoomany`, { name: 'onetoomany' });
    expect(answer.status).toBe(429);
    expect(answer.json.message).toMatch(/quota exceeded/);
  });

  it("moves the domain's modified when a group changes", async () => {
    const domain = await freshDomain();
    const before = (await zms.admin.get(`/domain/${domain}`)).json.modified;
    await zms.admin.put(`/domain/${domain}/group/g`, { name: 'g', groupMembers: members('user.a') });
    const after = (await zms.admin.get(`/domain/${domain}`)).json.modified;
    expect(Date.parse(after)).toBeGreaterThan(Date.parse(before));
  });
});
