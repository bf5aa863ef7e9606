import { describe, expect, it } from '@jest/globals';
import { createDomain, isoIn, putRole, useZmsServer } from './zms-client.ts';

const zms = useZmsServer();

async function domainWithRole(
  role = 'readers',
  members: string[] = [],
  fields: Record<string, unknown> = {},
) {
  const domain = zms.unique('mbr');
  await createDomain(zms.admin, domain, fields);
  const headers: Record<string, string> = fields.auditEnabled ? { 'Y-Audit-Ref': 'setup' } : {};
  const answer = await zms.admin.put(
    `/domain/${domain}/role/${role}`,
    { name: role, roleMembers: members.map((memberName) => ({ memberName })) },
    headers,
  );
  if (answer.status !== 204) throw new Error(`setup: ${answer.text}`);
  return domain;
}

describe('ZMS test server: PUT /domain/{d}/role/{r}/member/{m}', () => {
  it('adds the member (204) and GET membership then says isMember:true with the full role name', async () => {
    const domain = await domainWithRole();
    const put = await zms.admin.put(`/domain/${domain}/role/readers/member/user.alice`, {
      memberName: 'user.alice',
    });
    expect(put.status).toBe(204);
    expect(put.text).toBe('');
    const get = await zms.admin.get(`/domain/${domain}/role/readers/member/user.alice`);
    expect(get.status).toBe(200);
    expect(get.json).toMatchObject({
      memberName: 'user.alice',
      roleName: `${domain}:role.readers`,
      isMember: true,
      approved: true,
    });
  });

  it("overwrites an existing member's expiration, and a body without expiration clears it", async () => {
    const domain = await domainWithRole();
    const path = `/domain/${domain}/role/readers/member/user.temp`;
    const first = isoIn(3_600_000);
    const second = isoIn(7_200_000);
    await zms.admin.put(path, { memberName: 'user.temp', expiration: first });
    expect((await zms.admin.get(path)).json.expiration).toBe(new Date(first).toISOString());
    await zms.admin.put(path, { memberName: 'user.temp', expiration: second });
    expect((await zms.admin.get(path)).json.expiration).toBe(new Date(second).toISOString());
    await zms.admin.put(path, { memberName: 'user.temp' });
    const cleared = await zms.admin.get(path);
    expect(cleared.json.isMember).toBe(true);
    expect(cleared.json).not.toHaveProperty('expiration');
  });

  it('answers 200 with the Membership when Athenz-Return-Object is true', async () => {
    const domain = await domainWithRole();
    const answer = await zms.admin.put(
      `/domain/${domain}/role/readers/member/user.bob`,
      { memberName: 'user.bob', roleName: 'readers' },
      { 'Athenz-Return-Object': 'true' },
    );
    expect(answer.status).toBe(200);
    expect(answer.json).toMatchObject({ memberName: 'user.bob', isMember: true });
  });

  it('answers 400 when the body memberName differs from the path member', async () => {
    const domain = await domainWithRole();
    const answer = await zms.admin.put(`/domain/${domain}/role/readers/member/user.alice`, {
      memberName: 'user.bob',
    });
    expect(answer.status).toBe(400);
    expect(answer.json.code).toBe(400);
  });

  it('compares memberName with the path member after lowercasing both', async () => {
    const domain = await domainWithRole();
    const answer = await zms.admin.put(`/domain/${domain}/role/READERS/member/User.Carol`, {
      memberName: 'USER.carol',
    });
    expect(answer.status).toBe(204);
    const role = await zms.admin.get(`/domain/${domain}/role/readers`);
    expect(role.json.roleMembers.map((m: { memberName: string }) => m.memberName)).toEqual(['user.carol']);
  });

  it('answers 400 "Invalid role name specified" when the role or the domain does not exist', async () => {
    const domain = await domainWithRole();
    const noRole = await zms.admin.put(`/domain/${domain}/role/nosuchrole/member/user.a`, {
      memberName: 'user.a',
    });
    expect(noRole.status).toBe(400);
    expect(noRole.json).toEqual({ code: 400, message: 'Invalid role name specified' });
    const noDomain = await zms.admin.put('/domain/nosuchdomain/role/readers/member/user.a', {
      memberName: 'user.a',
    });
    expect(noDomain.status).toBe(400);
    expect(noDomain.json).toEqual({ code: 400, message: 'Invalid role name specified' });
  });

  it('answers 400 for a delegated role', async () => {
    const domain = await domainWithRole();
    await putRole(zms.admin, domain, 'delegated', [], { trust: 'sys' });
    const answer = await zms.admin.put(`/domain/${domain}/role/delegated/member/user.a`, {
      memberName: 'user.a',
    });
    expect(answer.status).toBe(400);
  });

  it("answers 404 when the member's domain does not exist", async () => {
    const domain = await domainWithRole();
    const answer = await zms.admin.put(`/domain/${domain}/role/readers/member/nosuch.svc`, {
      memberName: 'nosuch.svc',
    });
    expect(answer.status).toBe(404);
    expect(answer.json).toEqual({ code: 404, message: 'unknown domain - nosuch.svc' });
  });

  it('answers 429 when the role already has 100 members, but still updates an existing member', async () => {
    const members = Array.from({ length: 100 }, (_, i) => `user.m${i}`);
    const domain = await domainWithRole('full', members);
    const answer = await zms.admin.put(`/domain/${domain}/role/full/member/user.extra`, {
      memberName: 'user.extra',
    });
    expect(answer.status).toBe(429);
    expect(answer.json.message).toMatch(/quota exceeded/);
    const existing = await zms.admin.put(`/domain/${domain}/role/full/member/user.m0`, {
      memberName: 'user.m0',
    });
    expect(existing.status).toBe(204);
  });

  it('answers 403 to a caller without update rights on a role that is not self-serve', async () => {
    const domain = await domainWithRole();
    const stranger = await zms.as('user.stranger');
    const answer = await stranger.put(`/domain/${domain}/role/readers/member/user.stranger`, {
      memberName: 'user.stranger',
    });
    expect(answer.status).toBe(403);
    expect(answer.json).toEqual({
      code: 403,
      message: 'putMembership: principal is not authorized to add members',
    });
  });

  it('lets a caller with update_members on the role (granted by policy) add members', async () => {
    const domain = await domainWithRole();
    await putRole(zms.admin, domain, 'managers', ['user.manager']);
    await zms.admin.put(`/domain/${domain}/policy/managers`, {
      name: 'managers',
      assertions: [
        { role: `${domain}:role.managers`, action: 'update_members', resource: `${domain}:role.readers` },
      ],
    });
    const manager = await zms.as('user.manager');
    const answer = await manager.put(`/domain/${domain}/role/readers/member/user.new`, {
      memberName: 'user.new',
    });
    expect(answer.status).toBe(204);
    expect((await zms.admin.get(`/domain/${domain}/role/readers/member/user.new`)).json.isMember).toBe(true);
  });

  it('makes the member pending on a self-serve role when the caller has no update rights', async () => {
    const domain = await domainWithRole();
    await putRole(zms.admin, domain, 'club', [], { selfServe: true });
    const applicant = await zms.as('user.applicant');
    const answer = await applicant.put(`/domain/${domain}/role/club/member/user.applicant`, {
      memberName: 'user.applicant',
    });
    expect(answer.status).toBe(204);
    const membership = await zms.admin.get(`/domain/${domain}/role/club/member/user.applicant`);
    expect(membership.json).toMatchObject({ isMember: false, approved: false });
  });

  it('requires Y-Audit-Ref on an audit-enabled domain', async () => {
    const domain = await domainWithRole('readers', [], { auditEnabled: true });
    const path = `/domain/${domain}/role/readers/member/user.a`;
    const missing = await zms.admin.put(path, { memberName: 'user.a' });
    expect(missing.status).toBe(400);
    expect(missing.json).toEqual({
      code: 400,
      message: `putMembership: Audit reference required for domain: ${domain}`,
    });
    expect((await zms.admin.put(path, { memberName: 'user.a' }, { 'Y-Audit-Ref': 'why' })).status).toBe(204);
  });

  it('requires Y-Audit-Ref on an audit-enabled role in a domain without auditing', async () => {
    const domain = await domainWithRole();
    const created = await zms.admin.put(
      `/domain/${domain}/role/audited`,
      { name: 'audited', auditEnabled: true },
      { 'Y-Audit-Ref': 'creating an audited role' },
    );
    expect(created.status).toBe(204);
    const missing = await zms.admin.put(`/domain/${domain}/role/audited/member/user.a`, {
      memberName: 'user.a',
    });
    expect(missing.status).toBe(400);
    expect(missing.json.message).toBe(`putMembership: Audit reference required for domain: ${domain}`);
  });
});

describe('ZMS test server: GET /domain/{d}/role/{r}/member/{m}', () => {
  it('answers 200 isMember:false for an expired member, with its expiration', async () => {
    const domain = await domainWithRole();
    const past = isoIn(-60_000);
    await zms.admin.put(`/domain/${domain}/role/readers/member/user.gone`, {
      memberName: 'user.gone',
      expiration: past,
    });
    const answer = await zms.admin.get(`/domain/${domain}/role/readers/member/user.gone`);
    expect(answer.status).toBe(200);
    expect(answer.json).toMatchObject({
      memberName: 'user.gone',
      isMember: false,
      expiration: new Date(past).toISOString(),
    });
  });

  it('answers 200 isMember:false for a principal that is not a member', async () => {
    const domain = await domainWithRole();
    const answer = await zms.admin.get(`/domain/${domain}/role/readers/member/user.nobody`);
    expect(answer.status).toBe(200);
    expect(answer.json).toEqual({
      memberName: 'user.nobody',
      roleName: `${domain}:role.readers`,
      isMember: false,
    });
  });

  it('answers 404 for a missing role', async () => {
    const domain = await domainWithRole();
    expect((await zms.admin.get(`/domain/${domain}/role/nosuchrole/member/user.a`)).status).toBe(404);
  });

  it('sends no ETag (only /sys/modified_domains and /domain/{d}/signed do)', async () => {
    const domain = await domainWithRole('readers', ['user.a']);
    const answer = await zms.admin.get(`/domain/${domain}/role/readers/member/user.a`, {
      'If-None-Match': '"x"',
    });
    expect(answer.status).toBe(200);
    expect(answer.headers.etag).toBeUndefined();
  });
});

describe('ZMS test server: DELETE /domain/{d}/role/{r}/member/{m}', () => {
  it('answers 204 and the principal is no longer a member', async () => {
    const domain = await domainWithRole('readers', ['user.a', 'user.b']);
    expect((await zms.admin.delete(`/domain/${domain}/role/readers/member/user.a`)).status).toBe(204);
    expect((await zms.admin.get(`/domain/${domain}/role/readers/member/user.a`)).json.isMember).toBe(false);
  });

  it('answers 404 when the member is not in the role, or the role does not exist', async () => {
    const domain = await domainWithRole('readers', ['user.a']);
    const notMember = await zms.admin.delete(`/domain/${domain}/role/readers/member/user.zzz`);
    expect(notMember.status).toBe(404);
    expect(notMember.json.code).toBe(404);
    expect((await zms.admin.delete(`/domain/${domain}/role/nosuchrole/member/user.a`)).status).toBe(404);
    expect((await zms.admin.delete('/domain/nosuchdomain/role/readers/member/user.a')).status).toBe(404);
  });

  it('answers 403 to removing the last member of the admin role', async () => {
    const domain = await domainWithRole();
    const answer = await zms.admin.delete(`/domain/${domain}/role/admin/member/user.athenz_admin`);
    expect(answer.status).toBe(403);
    expect(answer.json.code).toBe(403);
  });

  it('answers 403 to a caller without update rights, but lets a member remove itself', async () => {
    const domain = await domainWithRole('readers', ['user.a', 'user.stranger']);
    const stranger = await zms.as('user.stranger');
    expect((await stranger.delete(`/domain/${domain}/role/readers/member/user.a`)).json).toEqual({
      code: 403,
      message: 'deleteMembership: principal is not authorized to delete members',
    });
    expect((await stranger.delete(`/domain/${domain}/role/readers/member/user.stranger`)).status).toBe(204);
    expect((await zms.admin.get(`/domain/${domain}/role/readers/member/user.stranger`)).json.isMember).toBe(
      false,
    );
  });
});

describe('ZMS test server: GET /domain/{d}/member', () => {
  it('lists every standard member with its roles (expired included, groups not expanded)', async () => {
    const domain = await domainWithRole('readers', ['user.a']);
    await zms.admin.put(`/domain/${domain}/group/g`, {
      name: 'g',
      groupMembers: [{ memberName: 'user.ingroup' }],
    });
    const past = isoIn(-60_000);
    await putRole(zms.admin, domain, 'writers', [
      'user.a',
      { memberName: 'user.old', expiration: past },
      `${domain}:group.g`,
    ]);
    const answer = await zms.admin.get(`/domain/${domain}/member`);
    expect(answer.status).toBe(200);
    expect(answer.json).toEqual({
      domainName: domain,
      members: [
        { memberName: `${domain}:group.g`, memberRoles: [{ roleName: 'writers' }] },
        { memberName: 'user.a', memberRoles: [{ roleName: 'readers' }, { roleName: 'writers' }] },
        { memberName: 'user.athenz_admin', memberRoles: [{ roleName: 'admin' }] },
        {
          memberName: 'user.old',
          memberRoles: [{ roleName: 'writers', expiration: new Date(past).toISOString() }],
        },
      ],
    });
  });
});
