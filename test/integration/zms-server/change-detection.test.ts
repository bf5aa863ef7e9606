import { createPublicKey, verify } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { type AnyJson, createDomain, ISO_WITH_MILLIS, putRole, useZmsServer } from './zms-client.ts';

const zms = useZmsServer();

const EPOCH_TAG = '"1970-01-01T00:00:00.000Z"';
const META = '/sys/modified_domains?metaonly=true';

/** The newest tag right now: every domain has changed by then. */
async function currentTag(): Promise<string> {
  const answer = await zms.admin.get(META);
  expect(answer.status).toBe(200);
  return answer.headers.etag!;
}

describe('ZMS test server: GET /sys/modified_domains', () => {
  it('answers 400 with an empty body without metaonly=true', async () => {
    const answer = await zms.admin.get('/sys/modified_domains');
    expect(answer.status).toBe(400);
    expect(answer.text).toBe('');
  });

  it('with metaonly=true returns every domain of the server with name and modified, no signature, ETag = newest', async () => {
    const domain = zms.unique('meta');
    await createDomain(zms.admin, domain);
    const answer = await zms.admin.get(META);
    expect(answer.status).toBe(200);
    const entries = answer.json.domains as AnyJson[];
    const names = entries.map((e) => e.domain.name);
    expect(names).toEqual(expect.arrayContaining(['sys', 'sys.auth', 'user', domain]));
    for (const entry of entries) {
      expect(Object.keys(entry)).toEqual(['domain']);
      expect(entry.domain.modified).toMatch(ISO_WITH_MILLIS);
    }
    const newest = entries
      .map((e) => e.domain.modified)
      .sort()
      .at(-1);
    expect(answer.headers.etag).toBe(`"${newest}"`);
  });

  it('answers 304 with the request tag as ETag and no body while nothing changed', async () => {
    const tag = await currentTag();
    const answer = await zms.admin.get(META, { 'If-None-Match': tag });
    expect(answer.status).toBe(304);
    expect(answer.headers.etag).toBe(tag);
    expect(answer.text).toBe('');
  });

  it('after a member change answers 200 naming only the changed domain, ETag = its new modified', async () => {
    const quiet = zms.unique('quiet');
    const busy = zms.unique('busy');
    await createDomain(zms.admin, quiet);
    await createDomain(zms.admin, busy);
    await putRole(zms.admin, busy, 'readers', ['user.a']);
    const tag = await currentTag();
    expect(
      (await zms.admin.put(`/domain/${busy}/role/readers/member/user.b`, { memberName: 'user.b' })).status,
    ).toBe(204);
    const answer = await zms.admin.get(META, { 'If-None-Match': tag });
    expect(answer.status).toBe(200);
    expect(answer.json.domains.map((e: AnyJson) => e.domain.name)).toEqual([busy]);
    const modified = (await zms.admin.get(`/domain/${busy}`)).json.modified;
    expect(answer.headers.etag).toBe(`"${modified}"`);
    const again = await zms.admin.get(META, { 'If-None-Match': answer.headers.etag! });
    expect(again.status).toBe(304);
  });

  it('moves modified on member removal, role replace and role delete too', async () => {
    const domain = zms.unique('moves');
    await createDomain(zms.admin, domain);
    await putRole(zms.admin, domain, 'r', ['user.a', 'user.b']);
    const changes = [
      () => zms.admin.delete(`/domain/${domain}/role/r/member/user.a`),
      () => zms.admin.put(`/domain/${domain}/role/r`, { name: 'r', roleMembers: [{ memberName: 'user.c' }] }),
      () => zms.admin.delete(`/domain/${domain}/role/r`),
    ];
    for (const change of changes) {
      const tag = await currentTag();
      expect([200, 204]).toContain((await change()).status);
      const answer = await zms.admin.get(META, { 'If-None-Match': tag });
      expect(answer.status).toBe(200);
      expect(answer.json.domains.map((e: AnyJson) => e.domain.name)).toEqual([domain]);
    }
  });

  it('reads an unparseable tag as the epoch: every domain comes back', async () => {
    const answer = await zms.admin.get(META, { 'If-None-Match': '"not a date"' });
    expect(answer.status).toBe(200);
    expect(answer.json.domains.map((e: AnyJson) => e.domain.name)).toEqual(
      expect.arrayContaining(['sys', 'user']),
    );
  });

  it('hands out strictly increasing stamps when changes land in the same millisecond (clock frozen by the test control)', async () => {
    const domains = Array.from({ length: 5 }, () => zms.unique('burst'));
    for (const domain of domains) await createDomain(zms.admin, domain);
    zms.server.clock.freeze();
    try {
      let tag = await currentTag();
      for (const domain of domains) {
        await zms.admin.put(`/domain/${domain}/role/admin/member/user.x`, { memberName: 'user.x' });
        const answer = await zms.admin.get(META, { 'If-None-Match': tag });
        expect(answer.status).toBe(200);
        expect(answer.json.domains.map((e: AnyJson) => e.domain.name)).toEqual([domain]);
        expect(Date.parse(answer.headers.etag!.replaceAll('"', ''))).toBeGreaterThan(
          Date.parse(tag.replaceAll('"', '')),
        );
        tag = answer.headers.etag!;
      }
    } finally {
      zms.server.clock.unfreeze();
    }
  });

  it('keeps stamps increasing when the clock steps back', async () => {
    const domain = zms.unique('back');
    await createDomain(zms.admin, domain);
    const tag = await currentTag();
    zms.server.clock.advance(-3_600_000);
    try {
      await putRole(zms.admin, domain, 'r', ['user.a']);
      const answer = await zms.admin.get(META, { 'If-None-Match': tag });
      expect(answer.status).toBe(200);
      expect(answer.json.domains.map((e: AnyJson) => e.domain.name)).toEqual([domain]);
    } finally {
      zms.server.clock.advance(3_600_000);
    }
  });

  it('with domain=X answers 304 while X is unchanged, even when other domains change', async () => {
    const x = zms.unique('x');
    await createDomain(zms.admin, x);
    const first = await zms.admin.get(`/sys/modified_domains?domain=${x}`);
    expect(first.status).toBe(200);
    const tag = first.headers.etag!;
    await createDomain(zms.admin, zms.unique('elsewhere'));
    const answer = await zms.admin.get(`/sys/modified_domains?domain=${x}`, { 'If-None-Match': tag });
    expect(answer.status).toBe(304);
    expect(answer.headers.etag).toBe(tag);
  });

  it('with domain=X returns one full SignedDomain when X changed', async () => {
    const x = zms.unique('full');
    await createDomain(zms.admin, x);
    await putRole(zms.admin, x, 'readers', ['user.a']);
    const answer = await zms.admin.get(`/sys/modified_domains?domain=${x}`, { 'If-None-Match': EPOCH_TAG });
    expect(answer.status).toBe(200);
    expect(answer.json.domains).toHaveLength(1);
    const signed = answer.json.domains[0];
    expect(signed).toEqual({ domain: expect.any(Object), signature: expect.any(String), keyId: '0' });
    expect(signed.domain.name).toBe(x);
    expect(signed.domain.roles.map((r: AnyJson) => r.name)).toEqual([`${x}:role.admin`, `${x}:role.readers`]);
    expect(signed.domain.roles[1].roleMembers).toEqual([expect.objectContaining({ memberName: 'user.a' })]);
    expect(signed.domain.policies.contents.policies[0].name).toBe(`${x}:policy.admin`);
    expect(answer.headers.etag).toBe(`"${signed.domain.modified}"`);
  });

  it('with domain=X answers 200 {"domains": []} when X does not exist', async () => {
    const answer = await zms.admin.get('/sys/modified_domains?domain=nosuchdomain');
    expect(answer.status).toBe(200);
    expect(answer.json).toEqual({ domains: [] });
  });

  it('lets a sys.* principal with master=true get full domains without metaonly', async () => {
    const zts = await zms.as('sys.auth.zts');
    const answer = await zts.get('/sys/modified_domains?master=true');
    expect(answer.status).toBe(200);
    expect(answer.json.domains[0]).toHaveProperty('signature');
    const user = await zms.as('user.someone');
    expect((await user.get('/sys/modified_domains?master=true')).status).toBe(400);
  });
});

describe('ZMS test server: GET /domain/{d}/signed', () => {
  it('returns a JWS of the domain, signed by the server key, with ETag = modified', async () => {
    const domain = zms.unique('jws');
    await createDomain(zms.admin, domain);
    const answer = await zms.admin.get(`/domain/${domain}/signed`);
    expect(answer.status).toBe(200);
    const { payload, protected: header, signature } = answer.json;
    const data = JSON.parse(Buffer.from(payload, 'base64url').toString());
    expect(data.name).toBe(domain);
    expect(answer.headers.etag).toBe(`"${data.modified}"`);
    const key = createPublicKey(zms.server.signingPublicKeyPem);
    const valid = verify(
      'sha256',
      Buffer.from(`${header}.${payload}`),
      { key, dsaEncoding: 'ieee-p1363' },
      Buffer.from(signature, 'base64url'),
    );
    expect(valid).toBe(true);
  });

  it('answers 304 to If-None-Match with the current tag, and 200 once the domain changed', async () => {
    const domain = zms.unique('jws');
    await createDomain(zms.admin, domain);
    const tag = (await zms.admin.get(`/domain/${domain}/signed`)).headers.etag!;
    const unchanged = await zms.admin.get(`/domain/${domain}/signed`, { 'If-None-Match': tag });
    expect(unchanged.status).toBe(304);
    await putRole(zms.admin, domain, 'r', ['user.a']);
    expect((await zms.admin.get(`/domain/${domain}/signed`, { 'If-None-Match': tag })).status).toBe(200);
  });

  it('answers 404 for a missing domain', async () => {
    expect((await zms.admin.get('/domain/nosuchdomain/signed')).status).toBe(404);
  });
});

describe('ZMS test server: no ETag/304 elsewhere', () => {
  it('ignores If-None-Match and sends no ETag on /roles, /role/{r} and /member', async () => {
    const domain = zms.unique('noetag');
    await createDomain(zms.admin, domain);
    const modified = (await zms.admin.get(`/domain/${domain}`)).json.modified;
    for (const path of [
      `/domain/${domain}/roles?members=true`,
      `/domain/${domain}/role/admin`,
      `/domain/${domain}/member`,
    ]) {
      const answer = await zms.admin.get(path, { 'If-None-Match': `"${modified}"` });
      expect(answer.status).toBe(200);
      expect(answer.headers.etag).toBeUndefined();
    }
  });
});
