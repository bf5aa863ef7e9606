import { describe, expect, it, jest } from '@jest/globals';
import { type AnyJson, useAthenzClients } from './athenz-clients.ts';

/**
 * The official Athenz Go client (github.com/AthenZ/athenz/clients/go/zms, through
 * test/conformance/zms-go-client) against the ZMS test server: first every call the operator
 * makes (src/zms/client.ts), then change detection as ZTS and the client use it. Each 200
 * answer was checked against ZMS's RDL schema as sent and decoded into the client's types, so
 * a wrong field type, a missing required field or a bad timestamp fails the call before any
 * assertion here.
 */

jest.setTimeout(180_000);

const athenz = useAthenzClients();
const ISO_WITH_MILLIS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const QUOTED_TAG = /^"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z"$/;
const memberNames = (members: AnyJson[] | undefined) => (members ?? []).map((m) => m.memberName);

async function freshDomain(prefix: string): Promise<string> {
  const domain = athenz.unique(prefix);
  const created = await athenz.go.ok('post-top-level-domain', [domain, 'user.athenz_admin']);
  expect(created.name).toBe(domain);
  return domain;
}

describe('Go client: the calls the operator makes', () => {
  it('GetDomain: name, modified with milliseconds, enabled, id; 404 as a ResourceError', async () => {
    const domain = await freshDomain('godom');
    const got = await athenz.go.ok('get-domain', [domain]);
    expect(got).toMatchObject({ name: domain, enabled: true, auditEnabled: false });
    expect(got.modified).toMatch(ISO_WITH_MILLIS);
    expect(got.id).toEqual(expect.any(String));
    expect(await athenz.go.call('get-domain', [athenz.unique('gonosuch')])).toEqual({
      error: { code: 404, message: expect.stringContaining('Domain not found') },
    });
  });

  it('PostSubDomain and DeleteSubDomain (the namespace subdomains)', async () => {
    const parent = await freshDomain('gosub');
    const created = await athenz.go.ok('post-subdomain', [parent, 'ns1', 'user.athenz_admin']);
    expect(created.name).toBe(`${parent}.ns1`);
    expect(created.modified).toMatch(ISO_WITH_MILLIS);
    expect((await athenz.go.ok('get-domain', [`${parent}.ns1`])).name).toBe(`${parent}.ns1`);
    expect(await athenz.go.call('post-subdomain', [parent, 'ns1', 'user.athenz_admin'])).toEqual({
      error: { code: 400, message: `Domain name conflict: ${parent}.ns1` },
    });
    expect(await athenz.go.call('delete-subdomain', [parent, 'ns1'])).toEqual({ result: null });
    expect((await athenz.go.call('get-domain', [`${parent}.ns1`])).error?.code).toBe(404);
    expect((await athenz.go.call('delete-subdomain', [parent, 'ns1'])).error?.code).toBe(404);
  });

  it('PutRole (returning the object), GetRoles with members, GetRole', async () => {
    const domain = await freshDomain('gorole');
    const expiration = new Date(Date.now() + 86_400_000).toISOString();
    const put = await athenz.go.ok('put-role', [domain, 'readers'], {
      name: `${domain}:role.readers`,
      roleMembers: [{ memberName: 'user.zed' }, { memberName: 'user.amy', expiration }],
    });
    expect(put.name).toBe(`${domain}:role.readers`);
    expect(memberNames(put.roleMembers)).toEqual(['user.amy', 'user.zed']);

    const roles = await athenz.go.ok('get-roles', [domain]);
    expect(roles.list.map((r: AnyJson) => r.name)).toEqual([
      `${domain}:role.admin`,
      `${domain}:role.readers`,
    ]);
    const readers = roles.list[1];
    expect(readers.modified).toMatch(ISO_WITH_MILLIS);
    expect(readers.roleMembers).toEqual([
      expect.objectContaining({ memberName: 'user.amy', expiration, approved: true }),
      expect.objectContaining({ memberName: 'user.zed', approved: true }),
    ]);
    expect(readers.roleMembers[1].expiration).toBeUndefined();

    const role = await athenz.go.ok('get-role', [domain, 'readers']);
    expect(memberNames(role.roleMembers)).toEqual(['user.amy', 'user.zed']);
    expect(await athenz.go.call('get-role', [domain, 'nosuch'])).toEqual({
      error: { code: 404, message: `getRole: Role not found: '${domain}:role.nosuch'` },
    });
    const missing = athenz.unique('gonoroles');
    expect(await athenz.go.call('get-roles', [missing])).toEqual({
      error: { code: 404, message: `getRoles: Domain not found: '${missing}'` },
    });
  });

  it('GetRole with expand: group members replaced by the group, delegated members from the trust domain', async () => {
    const domain = await freshDomain('goexpand');
    const trusted = await freshDomain('gotrust');
    const group = await athenz.go.ok('put-group', [domain, 'devs'], {
      name: `${domain}:group.devs`,
      groupMembers: [{ memberName: 'user.dev1' }, { memberName: 'user.dev2' }],
    });
    expect(memberNames(group.groupMembers)).toEqual(['user.dev1', 'user.dev2']);
    const fetched = await athenz.go.ok('get-group', [domain, 'devs']);
    expect(fetched).toMatchObject({ name: `${domain}:group.devs` });
    expect(fetched.modified).toMatch(ISO_WITH_MILLIS);
    expect(memberNames(fetched.groupMembers)).toEqual(['user.dev1', 'user.dev2']);

    await athenz.go.ok('put-role', [domain, 'readers'], {
      name: 'readers',
      roleMembers: [{ memberName: `${domain}:group.devs` }, { memberName: 'user.alice' }],
    });
    const expanded = await athenz.go.ok('get-role', [domain, 'readers', 'expand']);
    expect(memberNames(expanded.roleMembers).sort()).toEqual(['user.alice', 'user.dev1', 'user.dev2']);

    await athenz.go.ok('put-role', [trusted, 'friends'], {
      name: 'friends',
      roleMembers: [{ memberName: 'user.friend' }],
    });
    await athenz.go.ok('put-policy', [trusted, 'lend'], {
      name: `${trusted}:policy.lend`,
      assertions: [
        { role: `${trusted}:role.friends`, resource: `${domain}:role.borrowed`, action: 'assume_role' },
      ],
    });
    const delegated = await athenz.go.ok('put-role', [domain, 'borrowed'], {
      name: 'borrowed',
      trust: trusted,
    });
    expect(delegated).toMatchObject({ trust: trusted });
    expect(delegated.roleMembers).toBeUndefined();
    const borrowed = await athenz.go.ok('get-role', [domain, 'borrowed', 'expand']);
    expect(memberNames(borrowed.roleMembers)).toEqual(['user.friend']);
  });

  it('PutMembership with an expiration, GetMembership, DeleteMembership', async () => {
    const domain = await freshDomain('gomember');
    const expiration = new Date(Date.now() + 3_600_000).toISOString();
    const added = await athenz.go.ok('put-membership', [domain, 'admin', 'user.temp', expiration]);
    expect(added).toMatchObject({
      memberName: 'user.temp',
      roleName: `${domain}:role.admin`,
      isMember: true,
      expiration,
    });
    expect(await athenz.go.ok('get-membership', [domain, 'admin', 'user.temp'])).toMatchObject({
      isMember: true,
      expiration,
    });
    expect(await athenz.go.call('delete-membership', [domain, 'admin', 'user.temp'])).toEqual({
      result: null,
    });
    expect(await athenz.go.ok('get-membership', [domain, 'admin', 'user.temp'])).toMatchObject({
      isMember: false,
    });
    expect(await athenz.go.call('delete-membership', [domain, 'admin', 'user.athenz_admin'])).toEqual({
      error: { code: 403, message: expect.stringContaining('last member') },
    });
  });

  it('a caller without rights gets 403 with the {code, message} body the client decodes', async () => {
    const domain = await freshDomain('goforbid');
    const stranger = await athenz.as('user.stranger');
    expect(
      await stranger.go.call('put-role', [domain, 'readers'], { name: 'readers', roleMembers: [] }),
    ).toEqual({
      error: { code: 403, message: 'Forbidden' },
    });
  });
});

describe('Go client: groups as an Athenz user manages them', () => {
  it('PutGroupMembership with an expiration, GetGroupMembership, GetGroups, DeleteGroupMembership, DeleteGroup', async () => {
    const domain = await freshDomain('gogroup');
    await athenz.go.ok('put-group', [domain, 'devs'], {
      name: 'devs',
      groupMembers: [{ memberName: 'user.dev1' }],
    });
    const expiration = new Date(Date.now() + 3_600_000).toISOString();
    const added = await athenz.go.ok('put-group-membership', [domain, 'devs', 'user.dev2', expiration]);
    expect(added).toMatchObject({
      memberName: 'user.dev2',
      groupName: `${domain}:group.devs`,
      isMember: true,
      expiration,
    });
    expect(await athenz.go.ok('get-group-membership', [domain, 'devs', 'user.dev2'])).toMatchObject({
      isMember: true,
      expiration,
    });
    const groups = await athenz.go.ok('get-groups', [domain]);
    expect(groups.list.map((g: AnyJson) => [g.name, memberNames(g.groupMembers)])).toEqual([
      [`${domain}:group.devs`, ['user.dev1', 'user.dev2']],
    ]);
    // A group member is a user or a service, never another group.
    const nested = await athenz.go.call('put-group-membership', [domain, 'devs', `${domain}:group.devs`]);
    expect(nested.error?.code).toBe(400);

    expect(await athenz.go.call('delete-group-membership', [domain, 'devs', 'user.dev2'])).toEqual({
      result: null,
    });
    expect(await athenz.go.ok('get-group-membership', [domain, 'devs', 'user.dev2'])).toMatchObject({
      isMember: false,
    });
    expect(await athenz.go.call('delete-group', [domain, 'devs'])).toEqual({ result: null });
    expect(await athenz.go.ok('get-groups', [domain])).toEqual({ list: [] });
    expect((await athenz.go.call('get-group', [domain, 'devs'])).error?.code).toBe(404);
    const missing = athenz.unique('gonogroups');
    expect(await athenz.go.call('get-groups', [missing])).toEqual({
      error: { code: 404, message: `Domain not found: '${missing}'` },
    });
  });
});

describe('Go client: GetDomainList', () => {
  it('prefix and depth, and If-Modified-Since as an RFC 1123 date (empty when not given)', async () => {
    const domain = await freshDomain('golist');
    await athenz.go.ok('post-subdomain', [domain, 'a', 'user.athenz_admin']);
    expect(await athenz.go.ok('get-domain-list', [domain])).toEqual({
      names: [domain, `${domain}.a`],
      next: '',
    });
    expect((await athenz.go.ok('get-domain-list', [domain, '0'])).names).toEqual([domain]);
    const future = new Date(Date.now() + 86_400_000).toUTCString();
    expect((await athenz.go.ok('get-domain-list', [domain, '', '', '', future])).names).toEqual([]);
    const past = new Date(Date.now() - 86_400_000).toUTCString();
    expect((await athenz.go.ok('get-domain-list', [domain, '', '', '', past])).names).toEqual([
      domain,
      `${domain}.a`,
    ]);
    const bad = await athenz.go.call('get-domain-list', [domain, '', '', '', 'yesterday']);
    expect(bad.error?.code).toBe(400);
    expect(bad.error?.message).toContain('If-Modified-Since header value must be valid RFC1123 date');
  });
});

describe('Go client: GetSignedDomains and GetJWSDomain, with ETag, If-None-Match and 304', () => {
  it('metaonly=true (the operator): every changed domain and the newest tag; with that tag 304 until a change', async () => {
    const domain = await freshDomain('gomod');
    // The client always sends If-None-Match; with no tag yet it is empty.
    const all = await athenz.go.call('get-signed-domains', ['', 'true', '']);
    expect(all.etag).toMatch(QUOTED_TAG);
    const entry = all.result.domains.find((d: AnyJson) => d.domain.name === domain);
    expect(entry.domain.modified).toMatch(ISO_WITH_MILLIS);
    expect(entry.domain.roles).toEqual([]);

    const unchanged = await athenz.go.call('get-signed-domains', ['', 'true', all.etag!]);
    expect(unchanged).toEqual({ result: null, etag: all.etag });

    await athenz.go.ok('put-membership', [domain, 'admin', 'user.new']);
    const changed = await athenz.go.call('get-signed-domains', ['', 'true', all.etag!]);
    expect(changed.result.domains.map((d: AnyJson) => d.domain.name)).toEqual([domain]);
    expect(changed.etag).toBe(`"${changed.result.domains[0].domain.modified}"`);
    expect(changed.etag! > all.etag!).toBe(true);
  });

  it('metaonly without a domain is refused with an empty 400 body, which the client reports as is', async () => {
    expect(await athenz.go.call('get-signed-domains', ['', '', ''])).toEqual({
      error: { code: 400, message: '' },
    });
  });

  it('domain=X: the signed DomainData; 304 with X’s own tag; a missing domain is an empty list', async () => {
    const domain = await freshDomain('gosigned');
    await athenz.go.ok('put-role', [domain, 'readers'], {
      name: 'readers',
      roleMembers: [{ memberName: 'user.r' }],
    });
    const full = await athenz.go.call('get-signed-domains', [domain, '', '']);
    const [signed] = full.result.domains;
    expect(signed.domain.name).toBe(domain);
    expect(signed.domain.roles.map((r: AnyJson) => r.name)).toEqual([
      `${domain}:role.admin`,
      `${domain}:role.readers`,
    ]);
    expect(signed.signature).toEqual(expect.any(String));
    expect(full.etag).toBe(`"${signed.domain.modified}"`);

    // Other domains change; X does not: 304, tagged with X's own stamp even for a newer tag.
    const other = await freshDomain('goother');
    const newer = (await athenz.go.call('get-signed-domains', [other, '', ''])).etag!;
    expect(newer > full.etag!).toBe(true);
    expect(await athenz.go.call('get-signed-domains', [domain, '', newer])).toEqual({
      result: null,
      etag: full.etag,
    });

    const missing = await athenz.go.call('get-signed-domains', [athenz.unique('gogone'), '', '']);
    expect(missing.result).toEqual({ domains: [] });
    expect(missing.etag).toMatch(QUOTED_TAG);
  });

  it('GetJWSDomain: the payload is the DomainData; with its ETag, 304 and the same tag', async () => {
    const domain = await freshDomain('gojws');
    await athenz.go.ok('put-group', [domain, 'devs'], {
      name: 'devs',
      groupMembers: [{ memberName: 'user.d' }],
    });
    const jws = await athenz.go.call('get-jws-domain', [domain]);
    expect(jws.result.name).toBe(domain);
    expect(jws.result.groups.map((g: AnyJson) => g.name)).toEqual([`${domain}:group.devs`]);
    expect(jws.etag).toBe(`"${jws.result.modified}"`);
    expect(await athenz.go.call('get-jws-domain', [domain, jws.etag!])).toEqual({
      result: null,
      etag: jws.etag,
    });
    expect(await athenz.go.call('get-jws-domain', [athenz.unique('gonojws')])).toEqual({
      error: { code: 404, message: expect.stringContaining('No such domain') },
    });
  });
});
