import { beforeAll, describe, expect, it } from '@jest/globals';
import { createDomain, ISO_WITH_MILLIS, useZmsServer } from './zms-client.ts';

const zms = useZmsServer();

describe('ZMS test server: bootstrap state', () => {
  it('starts with user, sys and sys.auth, each with role admin holding the admin principals', async () => {
    for (const domain of ['user', 'sys', 'sys.auth']) {
      expect((await zms.admin.get(`/domain/${domain}`)).status).toBe(200);
      const role = await zms.admin.get(`/domain/${domain}/role/admin`);
      expect(role.json.name).toBe(`${domain}:role.admin`);
      expect(role.json.roleMembers.map((m: { memberName: string }) => m.memberName)).toEqual([
        'user.athenz_admin',
      ]);
    }
  });

  it('gives every domain policy admin granting role admin "*" on "<d>:*"', async () => {
    const answer = await zms.admin.get('/domain/sys.auth/policy/admin');
    expect(answer.status).toBe(200);
    expect(answer.json.assertions).toEqual([
      expect.objectContaining({
        role: 'sys.auth:role.admin',
        resource: 'sys.auth:*',
        action: '*',
        effect: 'ALLOW',
      }),
    ]);
  });
});

describe('ZMS test server: POST /domain (top-level domains)', () => {
  it('answers 200 (not 201) with the Domain, names lowercased, timestamps with milliseconds', async () => {
    const name = zms.unique('Create');
    const answer = await zms.admin.post('/domain', {
      name,
      adminUsers: ['User.Athenz_Admin'],
      description: 'a test domain',
      org: 'acme',
      tags: { 'k8s/owner': { list: ['athenz-rbac-operator'] } },
    });
    expect(answer.status).toBe(200);
    expect(answer.json).toEqual({
      name: name.toLowerCase(),
      modified: expect.stringMatching(ISO_WITH_MILLIS),
      id: expect.any(String),
      description: 'a test domain',
      org: 'acme',
      enabled: true,
      auditEnabled: false,
      tags: { 'k8s/owner': { list: ['athenz-rbac-operator'] } },
    });
  });

  it('stores domain tags and returns them from GET /domain/{d}', async () => {
    const name = zms.unique('tags');
    await createDomain(zms.admin, name, { tags: { owner: { list: ['a', 'b'] } } });
    const answer = await zms.admin.get(`/domain/${name}`);
    expect(answer.json.tags).toEqual({ owner: { list: ['a', 'b'] } });
  });

  it('answers 400 "Domain name conflict: <existing>" to an exact duplicate', async () => {
    const name = zms.unique('dup');
    await createDomain(zms.admin, name);
    const answer = await zms.admin.post('/domain', {
      name: name.toUpperCase(),
      adminUsers: ['user.athenz_admin'],
    });
    expect(answer.status).toBe(400);
    expect(answer.json).toEqual({ code: 400, message: `Domain name conflict: ${name}` });
  });

  it('answers 400 conflict when names collide once "." reads as "-" (sports.api vs sports-api)', async () => {
    const parent = zms.unique('sports');
    await createDomain(zms.admin, parent);
    const sub = await zms.admin.post(`/subdomain/${parent}`, {
      parent,
      name: 'api',
      adminUsers: ['user.athenz_admin'],
    });
    expect(sub.status).toBe(200);
    const answer = await zms.admin.post('/domain', {
      name: `${parent}-api`,
      adminUsers: ['user.athenz_admin'],
    });
    expect(answer.status).toBe(400);
    expect(answer.json).toEqual({ code: 400, message: `Domain name conflict: ${parent}.api` });
  });

  it('answers 400 "Invalid TopLevelDomain error: ..." when adminUsers is missing', async () => {
    const answer = await zms.admin.post('/domain', { name: zms.unique('noadmins') });
    expect(answer.status).toBe(400);
    expect(answer.json.code).toBe(400);
    expect(answer.json.message).toMatch(/^Invalid TopLevelDomain error: .*adminUsers/);
  });

  it('answers 400 "Invalid Object: ..." to a body that is not JSON', async () => {
    const answer = await zms.admin.post('/domain', '{"name": "broken"');
    expect(answer.status).toBe(400);
    expect(answer.json.message).toMatch(/^Invalid Object: /);
  });

  it('answers 400 "Missing or malformed TopLevelDomain" to a request without body', async () => {
    const answer = await zms.admin.post('/domain');
    expect(answer.status).toBe(400);
    expect(answer.json).toEqual({ code: 400, message: 'Missing or malformed TopLevelDomain' });
  });

  it('ignores unknown JSON fields', async () => {
    const answer = await zms.admin.post('/domain', {
      name: zms.unique('unknown'),
      adminUsers: ['user.athenz_admin'],
      somethingNew: { nested: true },
    });
    expect(answer.status).toBe(200);
    expect(answer.json).not.toHaveProperty('somethingNew');
  });

  it('answers 400 to a name that is not a SimpleName', async () => {
    const answer = await zms.admin.post('/domain', { name: 'bad name!', adminUsers: ['user.athenz_admin'] });
    expect(answer.status).toBe(400);
    expect(answer.json.message).toMatch(/^Invalid TopLevelDomain error: /);
  });

  it('answers 400 "Invalid Domain name: X : name length cannot exceed: 128" to a 129-character name', async () => {
    const name = 'a'.repeat(129);
    const answer = await zms.admin.post('/domain', { name, adminUsers: ['user.athenz_admin'] });
    expect(answer.status).toBe(400);
    expect(answer.json).toEqual({
      code: 400,
      message: `Invalid Domain name: ${name} : name length cannot exceed: 128`,
    });
  });

  it('lets a system admin (sys.auth admin) use "_" in a domain name', async () => {
    const answer = await zms.admin.post('/domain', {
      name: zms.unique('under_score'),
      adminUsers: ['user.athenz_admin'],
    });
    expect(answer.status).toBe(200);
  });

  it('answers 404 "unknown domain - <member>" when an admin user lives in a domain that does not exist', async () => {
    const answer = await zms.admin.post('/domain', {
      name: zms.unique('badadmin'),
      adminUsers: ['nosuch.service'],
    });
    expect(answer.status).toBe(404);
    expect(answer.json).toEqual({ code: 404, message: 'unknown domain - nosuch.service' });
  });
});

describe('ZMS test server: POST /subdomain/{parent}', () => {
  it('creates parent.name and answers 200 with the Domain', async () => {
    const parent = zms.unique('parent');
    await createDomain(zms.admin, parent);
    const answer = await zms.admin.post(`/subdomain/${parent}`, {
      parent,
      name: 'Child',
      adminUsers: ['user.athenz_admin'],
    });
    expect(answer.status).toBe(200);
    expect(answer.json.name).toBe(`${parent}.child`);
  });

  it('answers 403 "postSubDomain: Request and detail parent domains do not match" when body and path disagree', async () => {
    const parent = zms.unique('parent');
    await createDomain(zms.admin, parent);
    const answer = await zms.admin.post(`/subdomain/${parent}`, {
      parent: 'sys',
      name: 'x',
      adminUsers: ['user.athenz_admin'],
    });
    expect(answer.status).toBe(403);
    expect(answer.json).toEqual({
      code: 403,
      message: 'postSubDomain: Request and detail parent domains do not match',
    });
  });

  it('answers 404 with a bare (non-JSON) body when the parent does not exist (likely: a bare string)', async () => {
    const answer = await zms.admin.post('/subdomain/nosuchparent', {
      parent: 'nosuchparent',
      name: 'x',
      adminUsers: ['user.athenz_admin'],
    });
    expect(answer.status).toBe(404);
    expect(answer.json).toBeUndefined();
    expect(answer.text).toBe('Domain not found: nosuchparent');
  });

  it('answers 400 when the full name would exceed 128 characters', async () => {
    const parent = zms.unique('p');
    await createDomain(zms.admin, parent);
    const leaf = 'x'.repeat(128 - parent.length);
    const answer = await zms.admin.post(`/subdomain/${parent}`, {
      parent,
      name: leaf,
      adminUsers: ['user.athenz_admin'],
    });
    expect(answer.status).toBe(400);
    expect(answer.json.message).toBe(
      `Invalid Domain name: ${parent}.${leaf} : name length cannot exceed: 128`,
    );
  });

  it('inherits auditEnabled and org from the parent, whatever the body says', async () => {
    const parent = zms.unique('audited');
    await createDomain(zms.admin, parent, { auditEnabled: true, org: 'acme' });
    const answer = await zms.admin.post(`/subdomain/${parent}`, {
      parent,
      name: 'child',
      adminUsers: ['user.athenz_admin'],
      auditEnabled: false,
      org: 'other',
    });
    expect(answer.status).toBe(200);
    expect(answer.json).toMatchObject({ auditEnabled: true, org: 'acme' });
  });

  it('does not add the caller as an admin: only adminUsers are', async () => {
    const parent = zms.unique('owned');
    await createDomain(zms.admin, parent);
    const answer = await zms.admin.post(`/subdomain/${parent}`, {
      parent,
      name: 'team',
      adminUsers: ['user.bob'],
    });
    expect(answer.status).toBe(200);
    const admins = await zms.admin.get(`/domain/${parent}.team/role/admin`);
    expect(admins.json.roleMembers.map((m: { memberName: string }) => m.memberName)).toEqual(['user.bob']);
  });

  it('lets parent admins create subdomains, and answers 403 to anyone else', async () => {
    const parent = zms.unique('delegate');
    await createDomain(zms.admin, parent, { adminUsers: ['user.parentadmin'] });
    const parentAdmin = await zms.as('user.parentadmin');
    const ok = await parentAdmin.post(`/subdomain/${parent}`, {
      parent,
      name: 'a',
      adminUsers: ['user.parentadmin'],
    });
    expect(ok.status).toBe(200);
    const stranger = await zms.as('user.stranger');
    const denied = await stranger.post(`/subdomain/${parent}`, {
      parent,
      name: 'b',
      adminUsers: ['user.stranger'],
    });
    expect(denied.status).toBe(403);
    expect(denied.json).toEqual({ code: 403, message: 'Forbidden' });
  });

  it('answers 400 "Domain name cannot contain underscores" to a non-system admin', async () => {
    const parent = zms.unique('plain');
    await createDomain(zms.admin, parent, { adminUsers: ['user.parentadmin'] });
    const parentAdmin = await zms.as('user.parentadmin');
    const answer = await parentAdmin.post(`/subdomain/${parent}`, {
      parent,
      name: 'a_b',
      adminUsers: ['user.parentadmin'],
    });
    expect(answer.status).toBe(400);
    expect(answer.json).toEqual({ code: 400, message: 'Domain name cannot contain underscores' });
  });

  it('answers 400 conflict to a duplicate subdomain', async () => {
    const parent = zms.unique('twice');
    await createDomain(zms.admin, parent);
    const body = { parent, name: 'same', adminUsers: ['user.athenz_admin'] };
    expect((await zms.admin.post(`/subdomain/${parent}`, body)).status).toBe(200);
    const answer = await zms.admin.post(`/subdomain/${parent}`, body);
    expect(answer.status).toBe(400);
    expect(answer.json).toEqual({ code: 400, message: `Domain name conflict: ${parent}.same` });
  });

  it('answers 429 "... quota exceeded ..." past 100 subdomains under one top-level domain', async () => {
    const top = zms.unique('quota');
    await createDomain(zms.admin, top);
    for (let i = 0; i < 100; i++) {
      const answer = await zms.admin.post(`/subdomain/${top}`, {
        parent: top,
        name: `s${i}`,
        adminUsers: ['user.athenz_admin'],
      });
      expect(answer.status).toBe(200);
    }
    const answer = await zms.admin.post(`/subdomain/${top}.s0`, {
      parent: `${top}.s0`,
      name: 'deep',
      adminUsers: ['user.athenz_admin'],
    });
    expect(answer.status).toBe(429);
    expect(answer.json.code).toBe(429);
    expect(answer.json.message).toMatch(/quota exceeded/);
  });
});

describe('ZMS test server: GET /domain/{domain}', () => {
  it('answers 404 "getDomain: Domain not found: <d>" for a missing domain', async () => {
    const answer = await zms.admin.get('/domain/nosuchdomain');
    expect(answer.status).toBe(404);
    expect(answer.json).toEqual({ code: 404, message: 'getDomain: Domain not found: nosuchdomain' });
  });

  it('folds the case of the domain name in the path', async () => {
    const name = zms.unique('mixed');
    await createDomain(zms.admin, name);
    const answer = await zms.admin.get(`/domain/${name.toUpperCase()}`);
    expect(answer.status).toBe(200);
    expect(answer.json.name).toBe(name);
  });
});

describe('ZMS test server: GET /domain (list)', () => {
  const family = zms.unique('lst');
  const names = [family, `${family}.a`, `${family}.a.deep`, `${family}.b`, `${family}.c`];

  beforeAll(async () => {
    await createDomain(zms.admin, family);
    for (const name of names.slice(1)) {
      const dot = name.lastIndexOf('.');
      const parent = name.slice(0, dot);
      const body = { parent, name: name.slice(dot + 1), adminUsers: ['user.athenz_admin'] };
      const answer = await zms.admin.post(`/subdomain/${parent}`, body);
      if (answer.status !== 200) throw new Error(`creating ${name}: ${answer.text}`);
    }
  });

  it('keeps names with the raw string prefix, sorted ascending', async () => {
    const answer = await zms.admin.get(`/domain?prefix=${family.toUpperCase()}`);
    expect(answer.status).toBe(200);
    expect(answer.json).toEqual({ names });
  });

  it('keeps names with at most `depth` dots', async () => {
    const answer = await zms.admin.get(`/domain?prefix=${family}&depth=1`);
    expect(answer.json.names).toEqual([family, `${family}.a`, `${family}.b`, `${family}.c`]);
    const topOnly = await zms.admin.get(`/domain?prefix=${family}&depth=0`);
    expect(topOnly.json.names).toEqual([family]);
  });

  it('cuts the list at `limit` with `next` naming the last name, and `skip` continues after it', async () => {
    const first = await zms.admin.get(`/domain?prefix=${family}&limit=2`);
    expect(first.json).toEqual({ names: names.slice(0, 2), next: names[1] });
    const second = await zms.admin.get(`/domain?prefix=${family}&limit=2&skip=${first.json.next}`);
    expect(second.json).toEqual({ names: names.slice(2, 4), next: names[3] });
    const last = await zms.admin.get(`/domain?prefix=${family}&limit=2&skip=${second.json.next}`);
    expect(last.json).toEqual({ names: names.slice(4) });
  });

  it('answers 400 to a limit that is not positive', async () => {
    const answer = await zms.admin.get('/domain?limit=0');
    expect(answer.status).toBe(400);
    expect(answer.json.code).toBe(400);
  });

  it('keeps only domains modified strictly after If-Modified-Since, and sends no ETag', async () => {
    const before = await zms.admin.get(`/domain?prefix=${family}`);
    expect(before.headers.etag).toBeUndefined();
    const changed = await zms.admin.get(`/domain/${family}.b`);
    // RFC 1123 dates have whole seconds: one second before `modified` keeps the domain.
    const sinceJustBefore = new Date(Date.parse(changed.json.modified) - 1000).toUTCString();
    const future = new Date(Date.now() + 60_000).toUTCString();
    const kept = await zms.admin.get(`/domain?prefix=${family}`, { 'If-Modified-Since': sinceJustBefore });
    expect(kept.json.names).toContain(`${family}.b`);
    const none = await zms.admin.get(`/domain?prefix=${family}`, { 'If-Modified-Since': future });
    expect(none.status).toBe(200);
    expect(none.json).toEqual({ names: [] });
  });

  it('answers 400 to an If-Modified-Since that is not a date', async () => {
    const answer = await zms.admin.get('/domain', { 'If-Modified-Since': 'yesterday-ish' });
    expect(answer.status).toBe(400);
  });

  it('filters by tagKey/tagValue and by member+role', async () => {
    const tagged = zms.unique('tagged');
    await createDomain(zms.admin, tagged, {
      tags: { team: { list: ['blue'] } },
      adminUsers: ['user.tagowner'],
    });
    const byTag = await zms.admin.get('/domain?tagKey=team&tagValue=blue');
    expect(byTag.json.names).toEqual([tagged]);
    const byMember = await zms.admin.get('/domain?member=user.tagowner&role=admin');
    expect(byMember.json.names).toEqual([tagged]);
  });
});

describe('ZMS test server: DELETE /subdomain/{parent}/{name}', () => {
  it('answers 204 and the domain is gone', async () => {
    const parent = zms.unique('del');
    await createDomain(zms.admin, parent);
    await zms.admin.post(`/subdomain/${parent}`, { parent, name: 'gone', adminUsers: ['user.athenz_admin'] });
    const answer = await zms.admin.delete(`/subdomain/${parent}/gone`);
    expect(answer.status).toBe(204);
    expect(answer.text).toBe('');
    expect((await zms.admin.get(`/domain/${parent}.gone`)).status).toBe(404);
  });

  it('answers 400 "... Cannot delete domain <d>: <n> subdomains of it exist" when it has subdomains', async () => {
    const parent = zms.unique('delp');
    await createDomain(zms.admin, parent);
    await zms.admin.post(`/subdomain/${parent}`, { parent, name: 'mid', adminUsers: ['user.athenz_admin'] });
    await zms.admin.post(`/subdomain/${parent}.mid`, {
      parent: `${parent}.mid`,
      name: 'leaf',
      adminUsers: ['user.athenz_admin'],
    });
    const answer = await zms.admin.delete(`/subdomain/${parent}/mid`);
    expect(answer.status).toBe(400);
    expect(answer.json.message).toMatch(
      new RegExp(`Cannot delete domain ${parent}\\.mid: 1 subdomains of it exist$`),
    );
  });

  it('answers 404 for a missing subdomain', async () => {
    const answer = await zms.admin.delete('/subdomain/sys/nosuchchild');
    expect(answer.status).toBe(404);
  });

  it('lets an admin of the subdomain delete it, and answers 403 to others', async () => {
    const parent = zms.unique('delauth');
    await createDomain(zms.admin, parent);
    await zms.admin.post(`/subdomain/${parent}`, { parent, name: 'a', adminUsers: ['user.subadmin'] });
    await zms.admin.post(`/subdomain/${parent}`, { parent, name: 'b', adminUsers: ['user.subadmin'] });
    const stranger = await zms.as('user.stranger');
    const denied = await stranger.delete(`/subdomain/${parent}/a`);
    expect(denied.status).toBe(403);
    expect((await (await zms.as('user.subadmin')).delete(`/subdomain/${parent}/a`)).status).toBe(204);
    expect((await zms.admin.delete(`/subdomain/${parent}/b`)).status).toBe(204);
  });
});

describe('ZMS test server: DELETE /domain/{domain} (top-level, beyond the documented subset)', () => {
  it('lets a sys.auth admin delete a top-level domain (204) and answers 403 to others', async () => {
    const name = zms.unique('toplevel');
    await createDomain(zms.admin, name);
    expect((await (await zms.as('user.stranger')).delete(`/domain/${name}`)).status).toBe(403);
    expect((await zms.admin.delete(`/domain/${name}`)).status).toBe(204);
    expect((await zms.admin.get(`/domain/${name}`)).status).toBe(404);
  });
});
