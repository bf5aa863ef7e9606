import { describe, expect, it } from '@jest/globals';
import { createDomain, isoIn, putRole, useZmsServer, ZmsTestClient } from './zms-client.ts';

const zms = useZmsServer({ plainHttpPort: 0 });

const INVALID_CREDENTIALS = { code: 401, message: 'Invalid credentials' };
const CHALLENGE = 'AthenzX509Certificate realm="athenz"';

describe('ZMS test server: mutual TLS authentication', () => {
  it('answers 401 "Invalid credentials" with the Athenz challenge when no client certificate is sent', async () => {
    const answer = await zms.anonymous().get('/domain/sys.auth');
    expect(answer.status).toBe(401);
    expect(answer.json).toEqual(INVALID_CREDENTIALS);
    expect(answer.headers['www-authenticate']).toBe(CHALLENGE);
  });

  it('answers 401 to a certificate signed by a CA the server does not trust', async () => {
    const cert = await zms.server.pki.issueUntrustedClientCert('user.athenz_admin');
    const client = new ZmsTestClient(zms.server.url, zms.server.pki.caPem, cert);
    try {
      const answer = await client.get('/domain/sys.auth');
      expect(answer.status).toBe(401);
      expect(answer.json).toEqual(INVALID_CREDENTIALS);
      expect(answer.headers['www-authenticate']).toBe(CHALLENGE);
    } finally {
      await client.close();
    }
  });

  it('answers 401 to an expired client certificate', async () => {
    const cert = await zms.server.pki.issueClientCert('user.expired', {
      notBefore: new Date(Date.now() - 2 * 86_400_000),
      notAfter: new Date(Date.now() - 86_400_000),
    });
    const client = new ZmsTestClient(zms.server.url, zms.server.pki.caPem, cert);
    try {
      const answer = await client.get('/status');
      expect(answer.status).toBe(401);
      expect(answer.json).toEqual(INVALID_CREDENTIALS);
    } finally {
      await client.close();
    }
  });

  it('answers 401 when the certificate CN has no dot (no domain to split off)', async () => {
    const answer = await (await zms.as('nodot')).get('/status');
    expect(answer.status).toBe(401);
    expect(answer.json).toEqual(INVALID_CREDENTIALS);
  });

  it('takes the principal from the CN lowercased: "USER.Athenz_Admin" acts as user.athenz_admin', async () => {
    const shouting = await zms.as('USER.Athenz_Admin');
    const name = zms.unique('caps');
    const answer = await shouting.post('/domain', { name, adminUsers: ['user.athenz_admin'] });
    expect(answer.status).toBe(200);
  });

  it('GET /status answers {"code":200,"message":"OK"} to an authenticated caller', async () => {
    const answer = await (await zms.as('user.nobody')).get('/status');
    expect(answer.status).toBe(200);
    expect(answer.json).toEqual({ code: 200, message: 'OK' });
  });

  it('answers a plain-HTTP request with 400 "<api> request must be over TLS"', async () => {
    const answer = await fetch(`${zms.server.plainUrl}/domain/sys.auth`);
    expect(answer.status).toBe(400);
    expect(await answer.json()).toEqual({ code: 400, message: 'getDomain request must be over TLS' });
  });
});

describe('ZMS test server: authorization of writes', () => {
  it('lets any authenticated caller read: a non-admin gets sys.auth', async () => {
    const answer = await (await zms.as('user.reader')).get('/domain/sys.auth');
    expect(answer.status).toBe(200);
    expect(answer.json.name).toBe('sys.auth');
  });

  it('answers 403 {"code":403,"message":"Forbidden"} to a top-level domain create by a non-sys.auth admin', async () => {
    const answer = await (await zms.as('user.mallory')).post('/domain', {
      name: zms.unique('nope'),
      adminUsers: ['user.mallory'],
    });
    expect(answer.status).toBe(403);
    expect(answer.json).toEqual({ code: 403, message: 'Forbidden' });
  });

  it('answers 403 to a role write by a caller who is not an admin of the domain', async () => {
    const domain = zms.unique('authz');
    await createDomain(zms.admin, domain);
    const answer = await (await zms.as('user.mallory')).put(`/domain/${domain}/role/readers`, {
      name: 'readers',
      roleMembers: [{ memberName: 'user.mallory' }],
    });
    expect(answer.status).toBe(403);
    expect(answer.json).toEqual({ code: 403, message: 'Forbidden' });
  });

  it('lets the admins of a domain (the adminUsers) write in it', async () => {
    const domain = zms.unique('authz');
    await createDomain(zms.admin, domain, { adminUsers: ['user.owner'] });
    const owner = await zms.as('user.owner');
    const answer = await owner.put(`/domain/${domain}/role/readers`, { name: 'readers' });
    expect(answer.status).toBe(204);
    expect((await zms.admin.put(`/domain/${domain}/role/other`, { name: 'other' })).status).toBe(403);
  });

  it('evaluates policies: DENY beats ALLOW, resources match case-insensitive globs', async () => {
    const domain = zms.unique('deny');
    await createDomain(zms.admin, domain);
    await putRole(zms.admin, domain, 'writers', ['user.writer']);
    const policy = await zms.admin.put(`/domain/${domain}/policy/writers`, {
      name: 'writers',
      assertions: [
        { role: `${domain}:role.writers`, action: 'UPDATE', resource: `${domain}:ROLE.*`, effect: 'ALLOW' },
        {
          role: `${domain}:role.writers`,
          action: 'update',
          resource: `${domain}:role.protected`,
          effect: 'DENY',
        },
      ],
    });
    expect(policy.status).toBe(204);
    const writer = await zms.as('user.writer');
    expect((await writer.put(`/domain/${domain}/role/open`, { name: 'open' })).status).toBe(204);
    expect((await writer.put(`/domain/${domain}/role/protected`, { name: 'protected' })).status).toBe(403);
  });

  it('counts a member for authorization only until its expiration', async () => {
    const domain = zms.unique('expiry');
    await createDomain(zms.admin, domain);
    await putRole(zms.admin, domain, 'admin', [
      'user.athenz_admin',
      { memberName: 'user.former', expiration: isoIn(-60_000) },
      { memberName: 'user.current', expiration: isoIn(3_600_000) },
    ]);
    const former = await zms.as('user.former');
    const current = await zms.as('user.current');
    expect((await former.put(`/domain/${domain}/role/r1`, { name: 'r1' })).status).toBe(403);
    expect((await current.put(`/domain/${domain}/role/r1`, { name: 'r1' })).status).toBe(204);
  });

  it('matches a trailing-* member by prefix, and a group member through the group', async () => {
    const domain = zms.unique('match');
    await createDomain(zms.admin, domain);
    const group = await zms.admin.put(`/domain/${domain}/group/ops`, {
      name: 'ops',
      groupMembers: [{ memberName: 'user.grouped' }],
    });
    expect(group.status).toBe(204);
    await putRole(zms.admin, domain, 'admin', ['user.athenz_admin', 'user.pre*', `${domain}:group.ops`]);
    expect(
      (await (await zms.as('user.prefixed')).put(`/domain/${domain}/role/a`, { name: 'a' })).status,
    ).toBe(204);
    expect((await (await zms.as('user.grouped')).put(`/domain/${domain}/role/b`, { name: 'b' })).status).toBe(
      204,
    );
    expect((await (await zms.as('user.other')).put(`/domain/${domain}/role/c`, { name: 'c' })).status).toBe(
      403,
    );
  });

  it('ignores a system-disabled member for authorization (set through the test control, as ZMS sets it itself)', async () => {
    const domain = zms.unique('disabled');
    await createDomain(zms.admin, domain);
    await putRole(zms.admin, domain, 'admin', ['user.athenz_admin', 'user.disabled']);
    const disabled = await zms.as('user.disabled');
    expect((await disabled.put(`/domain/${domain}/role/a`, { name: 'a' })).status).toBe(204);
    zms.server.setSystemDisabled(domain, 'admin', 'user.disabled', 1);
    expect((await disabled.put(`/domain/${domain}/role/b`, { name: 'b' })).status).toBe(403);
    const role = await zms.admin.get(`/domain/${domain}/role/admin`);
    expect(role.json.roleMembers).toContainEqual(
      expect.objectContaining({ memberName: 'user.disabled', systemDisabled: 1 }),
    );
  });
});

describe('ZMS test server: policies (beyond the documented subset, for delegated roles and authorization)', () => {
  it('stores a policy with full role and resource names, lists, returns and deletes it', async () => {
    const domain = zms.unique('pol');
    await createDomain(zms.admin, domain);
    const put = await zms.admin.put(
      `/domain/${domain}/policy/Readers`,
      { name: 'readers', assertions: [{ role: 'Readers', action: 'READ', resource: 'Things.*' }] },
      { 'Athenz-Return-Object': 'true' },
    );
    expect(put.status).toBe(200);
    expect(put.json).toMatchObject({
      name: `${domain}:policy.readers`,
      assertions: [
        { role: `${domain}:role.readers`, action: 'read', resource: `${domain}:things.*`, effect: 'ALLOW' },
      ],
    });
    expect((await zms.admin.get(`/domain/${domain}/policy`)).json).toEqual({ names: ['admin', 'readers'] });
    expect((await zms.admin.delete(`/domain/${domain}/policy/readers`)).status).toBe(204);
    expect((await zms.admin.get(`/domain/${domain}/policy/readers`)).status).toBe(404);
  });

  it('answers 400 to changing or deleting the admin policy', async () => {
    const domain = zms.unique('pol');
    await createDomain(zms.admin, domain);
    const body = { name: 'admin', assertions: [] };
    expect((await zms.admin.put(`/domain/${domain}/policy/admin`, body)).status).toBe(400);
    expect((await zms.admin.delete(`/domain/${domain}/policy/admin`)).status).toBe(400);
  });
});
