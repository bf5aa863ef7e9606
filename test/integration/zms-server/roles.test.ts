import { describe, expect, it } from '@jest/globals';
import { type AnyJson, createDomain, ISO_WITH_MILLIS, isoIn, putRole, useZmsServer } from './zms-client.ts';

const zms = useZmsServer();

const names = (members: AnyJson[] | undefined) =>
  (members ?? []).map((m: { memberName: string }) => m.memberName);

async function freshDomain(fields: Record<string, unknown> = {}): Promise<string> {
  const domain = zms.unique('roles');
  await createDomain(zms.admin, domain, fields);
  return domain;
}

describe('ZMS test server: GET /domain/{d}/role and /roles', () => {
  it('lists short role names sorted, with limit/next and skip', async () => {
    const domain = await freshDomain();
    for (const role of ['zeta', 'alpha', 'mid']) await putRole(zms.admin, domain, role, []);
    const all = await zms.admin.get(`/domain/${domain}/role`);
    expect(all.status).toBe(200);
    expect(all.json).toEqual({ names: ['admin', 'alpha', 'mid', 'zeta'] });
    const page = await zms.admin.get(`/domain/${domain}/role?limit=2`);
    expect(page.json).toEqual({ names: ['admin', 'alpha'], next: 'alpha' });
    const rest = await zms.admin.get(`/domain/${domain}/role?limit=2&skip=alpha`);
    expect(rest.json).toEqual({ names: ['mid', 'zeta'] });
  });

  it('returns every role with members=true: standard members, expired included, groups not expanded', async () => {
    const domain = await freshDomain();
    await zms.admin.put(`/domain/${domain}/group/devs`, {
      name: 'devs',
      groupMembers: [{ memberName: 'user.dev' }],
    });
    const expired = isoIn(-3_600_000);
    await putRole(zms.admin, domain, 'readers', [
      { memberName: 'user.old', expiration: expired },
      `${domain}:group.devs`,
    ]);
    const answer = await zms.admin.get(`/domain/${domain}/roles?members=true`);
    expect(answer.status).toBe(200);
    expect(answer.json.list.map((r: { name: string }) => r.name)).toEqual([
      `${domain}:role.admin`,
      `${domain}:role.readers`,
    ]);
    const readers = answer.json.list[1];
    expect(names(readers.roleMembers)).toEqual([`${domain}:group.devs`, 'user.old']);
    expect(readers.roleMembers[1].expiration).toBe(new Date(expired).toISOString());
  });

  it('leaves roleMembers out without members=true, and filters by tagKey/tagValue', async () => {
    const domain = await freshDomain();
    await putRole(zms.admin, domain, 'tagged', ['user.a'], { tags: { env: { list: ['prod'] } } });
    await putRole(zms.admin, domain, 'other', ['user.b'], { tags: { env: { list: ['dev'] } } });
    const plain = await zms.admin.get(`/domain/${domain}/roles`);
    expect(plain.json.list.every((r: AnyJson) => r.roleMembers === undefined)).toBe(true);
    const filtered = await zms.admin.get(`/domain/${domain}/roles?members=true&tagKey=env&tagValue=prod`);
    expect(filtered.json.list.map((r: { name: string }) => r.name)).toEqual([`${domain}:role.tagged`]);
  });

  it('answers 404 for the roles of a missing domain', async () => {
    expect((await zms.admin.get('/domain/nosuchdomain/roles?members=true')).status).toBe(404);
    expect((await zms.admin.get('/domain/nosuchdomain/role')).status).toBe(404);
  });
});

describe('ZMS test server: GET /domain/{d}/role/{r}', () => {
  it('returns the Role with its full name, modified with milliseconds and members sorted by name', async () => {
    const domain = await freshDomain();
    await putRole(zms.admin, domain, 'readers', ['user.zed', 'user.amy']);
    const answer = await zms.admin.get(`/domain/${domain}/role/readers`);
    expect(answer.status).toBe(200);
    expect(answer.json.name).toBe(`${domain}:role.readers`);
    expect(answer.json.modified).toMatch(ISO_WITH_MILLIS);
    expect(answer.json.roleMembers).toEqual([
      { memberName: 'user.amy', approved: true, requestPrincipal: 'user.athenz_admin' },
      { memberName: 'user.zed', approved: true, requestPrincipal: 'user.athenz_admin' },
    ]);
  });

  it('answers 404 "getRole: Role not found: \'<d>:role.<r>\'" for a missing role or domain', async () => {
    const domain = await freshDomain();
    const answer = await zms.admin.get(`/domain/${domain}/role/nosuchrole`);
    expect(answer.status).toBe(404);
    expect(answer.json).toEqual({
      code: 404,
      message: `getRole: Role not found: '${domain}:role.nosuchrole'`,
    });
    const noDomain = await zms.admin.get('/domain/nosuchdomain/role/admin');
    expect(noDomain.json).toEqual({
      code: 404,
      message: "getRole: Role not found: 'nosuchdomain:role.admin'",
    });
  });

  it('with expand=true replaces a group member by its members, expiring at the earlier of the two dates', async () => {
    const domain = await freshDomain();
    const soon = isoIn(3_600_000);
    const later = isoIn(7_200_000);
    await zms.admin.put(`/domain/${domain}/group/devs`, {
      name: 'devs',
      groupMembers: [{ memberName: 'user.dev1', expiration: soon }, { memberName: 'user.dev2' }],
    });
    await putRole(zms.admin, domain, 'readers', [
      'user.direct',
      { memberName: `${domain}:group.devs`, expiration: later },
    ]);
    const plain = await zms.admin.get(`/domain/${domain}/role/readers`);
    expect(names(plain.json.roleMembers)).toEqual([`${domain}:group.devs`, 'user.direct']);
    const expanded = await zms.admin.get(`/domain/${domain}/role/readers?expand=true`);
    expect(expanded.json.roleMembers).toEqual([
      expect.objectContaining({ memberName: 'user.dev1', expiration: new Date(soon).toISOString() }),
      expect.objectContaining({ memberName: 'user.dev2', expiration: new Date(later).toISOString() }),
      expect.objectContaining({ memberName: 'user.direct' }),
    ]);
  });

  it("with expand=true gives a delegated role the members of the trust domain's assume_role roles", async () => {
    const domain = await freshDomain();
    const trust = await freshDomain();
    await putRole(zms.admin, trust, 'deployers', ['user.deployer']);
    const policy = await zms.admin.put(`/domain/${trust}/policy/delegation`, {
      name: 'delegation',
      assertions: [{ role: `${trust}:role.deployers`, action: 'assume_role', resource: `${domain}:role.*` }],
    });
    expect(policy.status).toBe(204);
    await putRole(zms.admin, domain, 'delegated', [], { trust });
    const plain = await zms.admin.get(`/domain/${domain}/role/delegated`);
    expect(plain.json.trust).toBe(trust);
    expect(plain.json.roleMembers).toBeUndefined();
    const expanded = await zms.admin.get(`/domain/${domain}/role/delegated?expand=true`);
    expect(names(expanded.json.roleMembers)).toEqual(['user.deployer']);
  });

  it('with pending=true adds pending members (approved:false, active:false, pendingState)', async () => {
    const domain = await freshDomain();
    await putRole(zms.admin, domain, 'club', ['user.member'], { selfServe: true });
    const applicant = await zms.as('user.applicant');
    expect(
      (
        await applicant.put(`/domain/${domain}/role/club/member/user.applicant`, {
          memberName: 'user.applicant',
        })
      ).status,
    ).toBe(204);
    const plain = await zms.admin.get(`/domain/${domain}/role/club`);
    expect(names(plain.json.roleMembers)).toEqual(['user.member']);
    const withPending = await zms.admin.get(`/domain/${domain}/role/club?pending=true`);
    expect(withPending.json.roleMembers).toContainEqual(
      expect.objectContaining({
        memberName: 'user.applicant',
        approved: false,
        active: false,
        pendingState: 'ADD',
      }),
    );
  });

  it('with auditLog=true adds who added and removed members', async () => {
    const domain = await freshDomain();
    await putRole(zms.admin, domain, 'logged', ['user.one']);
    await putRole(zms.admin, domain, 'logged', ['user.two']);
    const answer = await zms.admin.get(`/domain/${domain}/role/logged?auditLog=true`);
    expect(answer.json.auditLog).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ member: 'user.one', admin: 'user.athenz_admin', action: 'ADD' }),
        expect.objectContaining({ member: 'user.one', action: 'DELETE' }),
        expect.objectContaining({ member: 'user.two', action: 'ADD' }),
      ]),
    );
  });
});

describe('ZMS test server: PUT /domain/{d}/role/{r}', () => {
  it('replaces the members: members missing from the body are removed', async () => {
    const domain = await freshDomain();
    await putRole(zms.admin, domain, 'readers', ['user.keep', 'user.drop']);
    await putRole(zms.admin, domain, 'readers', ['user.keep', 'user.new']);
    const answer = await zms.admin.get(`/domain/${domain}/role/readers`);
    expect(names(answer.json.roleMembers)).toEqual(['user.keep', 'user.new']);
  });

  it('answers 204 with no body, or 200 with the Role when Athenz-Return-Object is true', async () => {
    const domain = await freshDomain();
    const plain = await zms.admin.put(`/domain/${domain}/role/r`, {
      name: 'r',
      roleMembers: [{ memberName: 'user.a' }],
    });
    expect(plain.status).toBe(204);
    expect(plain.text).toBe('');
    const returned = await zms.admin.put(
      `/domain/${domain}/role/r`,
      { name: `${domain}:role.r`, roleMembers: [{ memberName: 'user.b' }] },
      { 'Athenz-Return-Object': 'true' },
    );
    expect(returned.status).toBe(200);
    expect(returned.json).toMatchObject({
      name: `${domain}:role.r`,
      roleMembers: [{ memberName: 'user.b' }],
    });
  });

  it('answers 400 "putRole: Inconsistent role names ..." when the body names another role', async () => {
    const domain = await freshDomain();
    const answer = await zms.admin.put(`/domain/${domain}/role/r`, { name: 'other' });
    expect(answer.status).toBe(400);
    expect(answer.json.message).toMatch(/^putRole: Inconsistent role names/);
    const otherDomain = await zms.admin.put(`/domain/${domain}/role/r`, { name: 'sys:role.r' });
    expect(otherDomain.status).toBe(400);
  });

  it('answers 400 when the admin role would be left without members (likely: 400)', async () => {
    const domain = await freshDomain();
    const answer = await zms.admin.put(`/domain/${domain}/role/admin`, { name: 'admin', roleMembers: [] });
    expect(answer.status).toBe(400);
    expect(answer.json.code).toBe(400);
  });

  it('answers 400 when trust and roleMembers are both set', async () => {
    const domain = await freshDomain();
    const answer = await zms.admin.put(`/domain/${domain}/role/r`, {
      name: 'r',
      trust: 'sys',
      roleMembers: [{ memberName: 'user.a' }],
    });
    expect(answer.status).toBe(400);
    expect(answer.json.code).toBe(400);
  });

  it('answers 400 "Principal X is not valid" to a member name that does not classify', async () => {
    const domain = await freshDomain();
    for (const bad of ['nodot', 'user.bad name', 'a..b', '.leading']) {
      const answer = await zms.admin.put(`/domain/${domain}/role/r`, {
        name: 'r',
        roleMembers: [{ memberName: bad }],
      });
      expect(answer.status).toBe(400);
      expect(answer.json).toEqual({ code: 400, message: `Principal ${bad} is not valid` });
    }
  });

  it('answers 404 "unknown domain - <member>" when the member domain does not exist', async () => {
    const domain = await freshDomain();
    const answer = await zms.admin.put(`/domain/${domain}/role/r`, {
      name: 'r',
      roleMembers: [{ memberName: 'nosuchdomain.service' }],
    });
    expect(answer.status).toBe(404);
    expect(answer.json).toEqual({ code: 404, message: 'unknown domain - nosuchdomain.service' });
  });

  it('answers 404 to a group member whose group does not exist (likely: "unknown group - <member>")', async () => {
    const domain = await freshDomain();
    const answer = await zms.admin.put(`/domain/${domain}/role/r`, {
      name: 'r',
      roleMembers: [{ memberName: `${domain}:group.nosuchgroup` }],
    });
    expect(answer.status).toBe(404);
    expect(answer.json.message).toBe(`unknown group - ${domain}:group.nosuchgroup`);
  });

  it('accepts every principal type: user, service, wildcards, user.*, group, external', async () => {
    const domain = await freshDomain();
    await zms.admin.put(`/domain/${domain}/group/g`, { name: 'g', groupMembers: [{ memberName: 'user.x' }] });
    const members = [
      '*',
      'user.*',
      'user.alice',
      'sys.auth.zms',
      'sys.auth.*',
      'sys.auth.api*',
      `${domain}:group.g`,
      'sys:ext.anything',
    ];
    await putRole(zms.admin, domain, 'everyone', members);
    const answer = await zms.admin.get(`/domain/${domain}/role/everyone`);
    expect(names(answer.json.roleMembers)).toEqual([...members].sort());
  });

  it('answers 404 with a bare body when the domain does not exist (authorize step)', async () => {
    const answer = await zms.admin.put('/domain/nosuchdomain/role/r', { name: 'r' });
    expect(answer.status).toBe(404);
    expect(answer.json).toBeUndefined();
    expect(answer.text).toBe('Domain not found: nosuchdomain');
  });

  it('folds case: domain, role and member names are stored and returned lowercase', async () => {
    const domain = await freshDomain();
    const answer = await zms.admin.put(`/domain/${domain.toUpperCase()}/role/ReadErs`, {
      name: 'READERS',
      roleMembers: [{ memberName: 'USER.Bob' }],
    });
    expect(answer.status).toBe(204);
    const role = await zms.admin.get(`/domain/${domain}/role/readers`);
    expect(role.json.name).toBe(`${domain}:role.readers`);
    expect(names(role.json.roleMembers)).toEqual(['user.bob']);
  });

  it('answers 400 to role and member names over 512 characters', async () => {
    const domain = await freshDomain();
    const longRole = 'r'.repeat(513);
    expect((await zms.admin.put(`/domain/${domain}/role/${longRole}`, { name: longRole })).status).toBe(400);
    const longMember = `user.${'m'.repeat(508)}`;
    const answer = await zms.admin.put(`/domain/${domain}/role/r`, {
      name: 'r',
      roleMembers: [{ memberName: longMember }],
    });
    expect(answer.status).toBe(400);
  });

  it('requires Y-Audit-Ref on an audit-enabled domain: 400 "putRole: Audit reference required for domain: <d>"', async () => {
    const domain = await freshDomain({ auditEnabled: true });
    const missing = await zms.admin.put(`/domain/${domain}/role/r`, { name: 'r' });
    expect(missing.status).toBe(400);
    expect(missing.json).toEqual({
      code: 400,
      message: `putRole: Audit reference required for domain: ${domain}`,
    });
    const given = await zms.admin.put(
      `/domain/${domain}/role/r`,
      { name: 'r', roleMembers: [{ memberName: 'user.a' }] },
      { 'Y-Audit-Ref': 'ticket-1' },
    );
    expect(given.status).toBe(204);
    const role = await zms.admin.get(`/domain/${domain}/role/r`);
    expect(role.json.roleMembers[0].auditRef).toBe('ticket-1');
  });

  it('answers 429 past 100 members in a role', async () => {
    const domain = await freshDomain();
    const roleMembers = Array.from({ length: 101 }, (_, i) => ({ memberName: `user.m${i}` }));
    const answer = await zms.admin.put(`/domain/${domain}/role/big`, { name: 'big', roleMembers });
    expect(answer.status).toBe(429);
    expect(answer.json.message).toMatch(/quota exceeded/);
    roleMembers.pop();
    expect((await zms.admin.put(`/domain/${domain}/role/big`, { name: 'big', roleMembers })).status).toBe(
      204,
    );
  });

  it('answers 429 past 1000 roles in a domain', async () => {
    const domain = await freshDomain();
    // The domain already has role admin: 999 more reach the quota.
    const pending = Array.from({ length: 999 }, (_, i) => i);
    const workers = Array.from({ length: 8 }, async () => {
      for (let i = pending.shift(); i !== undefined; i = pending.shift()) {
        const answer = await zms.admin.put(`/domain/${domain}/role/r${i}`, { name: `r${i}` });
        if (answer.status !== 204) throw new Error(`role r${i}: ${answer.status} ${answer.text}`);
      }
    });
    await Promise.all(workers);
    const answer = await zms.admin.put(`/domain/${domain}/role/onetoomany`, { name: 'onetoomany' });
    expect(answer.status).toBe(429);
    expect(answer.json).toEqual({ code: 429, message: expect.stringMatching(/quota exceeded/) });
    expect((await zms.admin.put(`/domain/${domain}/role/r1`, { name: 'r1' })).status).toBe(204);
  });
});

describe('ZMS test server: DELETE /domain/{d}/role/{r}', () => {
  it('answers 204 and the role is gone', async () => {
    const domain = await freshDomain();
    await putRole(zms.admin, domain, 'temp', ['user.a']);
    expect((await zms.admin.delete(`/domain/${domain}/role/temp`)).status).toBe(204);
    expect((await zms.admin.get(`/domain/${domain}/role/temp`)).status).toBe(404);
  });

  it('answers 400 for the admin role and 404 for a missing role', async () => {
    const domain = await freshDomain();
    expect((await zms.admin.delete(`/domain/${domain}/role/admin`)).status).toBe(400);
    const missing = await zms.admin.delete(`/domain/${domain}/role/nosuchrole`);
    expect(missing.status).toBe(404);
    expect(missing.json.code).toBe(404);
  });
});
