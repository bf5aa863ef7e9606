import { describe, expect, it, jest } from '@jest/globals';
import { type AnyJson, useAthenzClients } from './athenz-clients.ts';

/**
 * The official `zms-cli` (pinned in hack/athenz-tools.sh) against the ZMS test server, command
 * by command as an Athenz user types them. A command that fails here fails against our
 * imitation, not against ZMS: the fix belongs in test/support/zms-server.
 */

// Each command is a process; on a saturated machine a test of many commands takes a while.
jest.setTimeout(180_000);

const athenz = useAthenzClients();
const ISO_WITH_MILLIS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const memberNames = (members: AnyJson[] | undefined) => (members ?? []).map((m) => m.memberName);

/** A top-level domain administered by user.athenz_admin, made with `add-domain`. */
async function freshDomain(prefix: string): Promise<string> {
  const domain = athenz.unique(prefix);
  expect(await athenz.cli.ok('add-domain', domain, 'user.athenz_admin')).toContain(
    `[domain created: ${domain}]`,
  );
  return domain;
}

describe('zms-cli: domains and subdomains', () => {
  it('add-domain, then list-domain with a prefix finds it (the client sends If-Modified-Since empty)', async () => {
    const domain = await freshDomain('clilist');
    expect(await athenz.cli.ok('add-domain', `${domain}.team`, 'user.athenz_admin')).toContain(
      `[subdomain created: ${domain}.team]`,
    );
    expect(await athenz.cli.json('list-domain', domain)).toEqual({
      names: [domain, `${domain}.team`],
      next: '',
    });
    const yaml = await athenz.cli.ok('list-domain', domain);
    expect(yaml).toBe(`domains:\n    - ${domain}\n    - ${domain}.team\n\n`);
    // Without a prefix: every domain, the bootstrap ones included.
    const all = await athenz.cli.json('list-domain');
    expect(all.names).toEqual(expect.arrayContaining(['sys', 'sys.auth', 'user', domain, `${domain}.team`]));
  });

  it('list-domain limit skip prefix depth: depth counts dots, limit cuts with next, skip starts after', async () => {
    const domain = await freshDomain('clidepth');
    for (const sub of [`${domain}.a`, `${domain}.b`, `${domain}.a.x`])
      await athenz.cli.ok('add-domain', sub, 'user.athenz_admin');
    expect((await athenz.cli.json('list-domain', '100', '', domain, '0')).names).toEqual([domain]);
    expect((await athenz.cli.json('list-domain', '100', '', domain, '1')).names).toEqual([
      domain,
      `${domain}.a`,
      `${domain}.b`,
    ]);
    expect(await athenz.cli.json('list-domain', '2', '', domain, '2')).toEqual({
      names: [domain, `${domain}.a`],
      next: `${domain}.a`,
    });
    expect((await athenz.cli.json('list-domain', '100', `${domain}.a`, domain, '2')).names).toEqual([
      `${domain}.a.x`,
      `${domain}.b`,
    ]);
    // ZMS skips only up to a name it found: a skip that names no domain skips nothing.
    expect((await athenz.cli.json('list-domain', '100', `${domain}.aa`, domain, '1')).names).toEqual([
      domain,
      `${domain}.a`,
      `${domain}.b`,
    ]);
  });

  it('show-domain prints the signed domain data: roles, members, the admin policy', async () => {
    const domain = await freshDomain('clishow');
    await athenz.cli.ok('-d', domain, 'add-regular-role', 'readers', 'user.alice');
    const data = await athenz.cli.json('show-domain', domain);
    expect(data.name).toBe(domain);
    expect(data.modified).toMatch(ISO_WITH_MILLIS);
    expect(data.roles.map((r: AnyJson) => r.name)).toEqual([
      `${domain}:role.admin`,
      `${domain}:role.readers`,
    ]);
    expect(memberNames(data.roles[0].roleMembers)).toEqual(['user.athenz_admin']);
    expect(memberNames(data.roles[1].roleMembers)).toEqual(['user.alice']);
    expect(data.policies.contents.domain).toBe(domain);
    expect(data.policies.contents.policies).toEqual([
      expect.objectContaining({
        name: `${domain}:policy.admin`,
        assertions: [
          expect.objectContaining({ role: `${domain}:role.admin`, resource: `${domain}:*`, action: '*' }),
        ],
      }),
    ]);
    const yaml = await athenz.cli.ok('show-domain', domain);
    expect(yaml).toContain(`domain:\n    name: ${domain}\n`);
    expect(yaml).toContain('- grant * to admin on *');
    expect(await athenz.cli.error('show-domain', athenz.unique('clinosuch'))).toMatchObject({ code: 404 });
  });

  it('delete-domain removes a subdomain, refuses a domain that still has subdomains, then removes it', async () => {
    const domain = await freshDomain('clidel');
    await athenz.cli.ok('add-domain', `${domain}.child`, 'user.athenz_admin');
    const refused = await athenz.cli.error('delete-domain', domain);
    expect(refused.code).toBe(400);
    expect(refused.message).toContain('subdomains');
    expect(await athenz.cli.ok('delete-domain', `${domain}.child`)).toContain(
      `[Deleted domain ${domain}.child]`,
    );
    expect((await athenz.cli.json('list-domain', domain)).names).toEqual([domain]);
    expect(await athenz.cli.ok('delete-domain', domain)).toContain(`[Deleted domain ${domain}]`);
    expect((await athenz.cli.json('list-domain', domain)).names).toEqual([]);
    expect(await athenz.cli.error('show-domain', domain)).toMatchObject({ code: 404 });
  });
});

describe('zms-cli: roles and members', () => {
  it('add-regular-role, add-member, delete-member, check-member, show-role, list-role, delete-role', async () => {
    const domain = await freshDomain('clirole');
    const cli = (...args: string[]) => athenz.cli.ok('-d', domain, ...args);
    await cli('add-regular-role', 'readers', 'user.bob', 'user.alice');
    expect(await athenz.cli.error('-d', domain, 'add-regular-role', 'readers', 'user.x')).toEqual({
      code: 400,
      message: `role already exists: ${domain}:role.readers`,
    });
    expect(await cli('add-member', 'readers', 'user.carol')).toContain('[Added to readers: user.carol]');
    expect(await cli('delete-member', 'readers', 'user.bob')).toContain('[Deleted from readers: user.bob]');

    const role = await athenz.cli.json('-d', domain, 'show-role', 'readers');
    expect(role.name).toBe(`${domain}:role.readers`);
    expect(role.modified).toMatch(ISO_WITH_MILLIS);
    expect(memberNames(role.roleMembers)).toEqual(['user.alice', 'user.carol']);
    expect(role.roleMembers[0]).toMatchObject({ approved: true, requestPrincipal: 'user.athenz_admin' });

    const checked = await athenz.cli.json('-d', domain, 'check-member', 'readers', 'user.carol', 'user.bob');
    expect(checked.map((m: AnyJson) => [m.memberName, m.isMember, m.roleName])).toEqual([
      ['user.carol', true, `${domain}:role.readers`],
      ['user.bob', false, `${domain}:role.readers`],
    ]);
    expect(await athenz.cli.json('-d', domain, 'list-role')).toEqual(['admin', 'readers']);
    expect(await cli('delete-role', 'readers')).toContain('[Deleted role: readers]');
    expect(await athenz.cli.json('-d', domain, 'list-role')).toEqual(['admin']);
    expect(await athenz.cli.error('-d', domain, 'show-role', 'readers')).toEqual({
      code: 404,
      message: `getRole: Role not found: '${domain}:role.readers'`,
    });
  });

  it('add-temporary-member keeps the expiration, to the millisecond, in show-role and check-member', async () => {
    const domain = await freshDomain('clitemp');
    await athenz.cli.ok('-d', domain, 'add-regular-role', 'oncall', 'user.lead');
    const expiry = new Date(Date.now() + 86_400_000);
    expiry.setUTCMilliseconds(0);
    const expiration = expiry.toISOString();
    expect(
      await athenz.cli.ok(
        '-d',
        domain,
        'add-temporary-member',
        'oncall',
        'user.temp',
        expiration.replace('.000Z', 'Z'),
      ),
    ).toContain('[Added to oncall: user.temp]');
    const role = await athenz.cli.json('-d', domain, 'show-role', 'oncall');
    expect(role.roleMembers).toEqual([
      expect.objectContaining({ memberName: 'user.lead' }),
      expect.objectContaining({ memberName: 'user.temp', expiration }),
    ]);
    expect(role.roleMembers[0].expiration).toBeUndefined();
    const [checked] = await athenz.cli.json('-d', domain, 'check-member', 'oncall', 'user.temp');
    expect(checked).toMatchObject({ memberName: 'user.temp', isMember: true, expiration });
    expect(await athenz.cli.ok('-d', domain, 'show-role', 'oncall')).toContain(
      `- name: user.temp\n          expiration: ${expiration}\n`,
    );
  });
});

describe('zms-cli: who may remove a member', () => {
  it('a member may leave a role (and a group) by itself; anyone else needs update rights', async () => {
    const domain = await freshDomain('clileave');
    await athenz.cli.ok('-d', domain, 'add-regular-role', 'readers', 'user.leaver', 'user.stays');
    await athenz.cli.ok('-d', domain, 'add-group', 'devs', 'user.leaver', 'user.stays');
    const leaver = await athenz.as('user.leaver');
    expect(await leaver.cli.error('-d', domain, 'delete-member', 'readers', 'user.stays')).toEqual({
      code: 403,
      message: 'deleteMembership: principal is not authorized to delete members',
    });
    expect(await leaver.cli.error('-d', domain, 'add-member', 'readers', 'user.friend')).toEqual({
      code: 403,
      message: 'putMembership: principal is not authorized to add members',
    });
    expect(await leaver.cli.ok('-d', domain, 'delete-member', 'readers', 'user.leaver')).toContain(
      '[Deleted from readers: user.leaver]',
    );
    expect(await leaver.cli.ok('-d', domain, 'delete-group-member', 'devs', 'user.leaver')).toContain(
      '[Deleted from devs: user.leaver]',
    );
    expect(memberNames((await athenz.cli.json('-d', domain, 'show-role', 'readers')).roleMembers)).toEqual([
      'user.stays',
    ]);
    expect(memberNames((await athenz.cli.json('-d', domain, 'show-group', 'devs')).groupMembers)).toEqual([
      'user.stays',
    ]);
  });

  it('the last admin stays, and a member that is not there is a 404', async () => {
    const domain = await freshDomain('clilast');
    expect(await athenz.cli.error('-d', domain, 'delete-member', 'admin', 'user.athenz_admin')).toEqual({
      code: 403,
      message: "deleteMembership: Cannot delete last member of 'admin' role",
    });
    expect(await athenz.cli.error('-d', domain, 'delete-member', 'admin', 'user.nobody')).toEqual({
      code: 404,
      message: 'deleteMembership: unable to delete role member: user.nobody from role: admin',
    });
    expect(await athenz.cli.error('-d', domain, 'delete-member', 'nosuchrole', 'user.nobody')).toEqual({
      code: 404,
      message: 'Invalid domain/role name specified',
    });
  });
});

describe('zms-cli: groups', () => {
  it('add-group, add-group-member, show-group, check-group-member, delete-group-member, list-group, delete-group', async () => {
    const domain = await freshDomain('cligroup');
    const cli = (...args: string[]) => athenz.cli.ok('-d', domain, ...args);
    await cli('add-group', 'devs', 'user.dev1');
    expect(await cli('add-group-member', 'devs', 'user.dev2')).toContain('[Added to devs: user.dev2]');
    const group = await athenz.cli.json('-d', domain, 'show-group', 'devs');
    expect(group.name).toBe(`${domain}:group.devs`);
    expect(group.modified).toMatch(ISO_WITH_MILLIS);
    expect(memberNames(group.groupMembers)).toEqual(['user.dev1', 'user.dev2']);
    const checked = await athenz.cli.ok(
      '-d',
      domain,
      'check-group-member',
      'devs',
      'user.dev2',
      'user.nobody',
    );
    expect(checked).toBe(
      '    - member: user.dev2\n      result: true\n    - member: user.nobody\n      result: false\n\n',
    );
    expect(await cli('delete-group-member', 'devs', 'user.dev2')).toContain('[Deleted from devs: user.dev2]');
    expect(memberNames((await athenz.cli.json('-d', domain, 'show-group', 'devs')).groupMembers)).toEqual([
      'user.dev1',
    ]);
    expect(await athenz.cli.json('-d', domain, 'list-group')).toEqual(['devs']);
    expect(await cli('delete-group', 'devs')).toContain('[Deleted group: devs]');
    expect(await athenz.cli.json('-d', domain, 'list-group')).toEqual([]);
    expect(await athenz.cli.error('-d', domain, 'show-group', 'devs')).toEqual({
      code: 404,
      message: `getGroup: Group not found: '${domain}:group.devs'`,
    });
  });

  it('show-role expand replaces a group member by the members of the group', async () => {
    const domain = await freshDomain('cliexpand');
    await athenz.cli.ok('-d', domain, 'add-group', 'devs', 'user.dev1', 'user.dev2');
    await athenz.cli.ok('-d', domain, 'add-regular-role', 'readers', 'user.alice', `${domain}:group.devs`);
    const plain = await athenz.cli.json('-d', domain, 'show-role', 'readers');
    expect(memberNames(plain.roleMembers)).toEqual([`${domain}:group.devs`, 'user.alice']);
    const expanded = await athenz.cli.json('-d', domain, 'show-role', 'readers', 'expand');
    expect(memberNames(expanded.roleMembers).sort()).toEqual(['user.alice', 'user.dev1', 'user.dev2']);
  });
});

describe('zms-cli: delegated roles', () => {
  it('add-delegated-role trusts another domain, whose assume_role policy gives it members', async () => {
    const domain = await freshDomain('clideleg');
    const trusted = await freshDomain('clitrust');
    await athenz.cli.ok('-d', trusted, 'add-regular-role', 'friends', 'user.f1', 'user.f2');
    const policy = await athenz.cli.ok(
      ...['-d', trusted, 'add-policy', 'lend', 'grant', 'assume_role', 'to', 'friends', 'on'],
      `${domain}:role.borrowed`,
    );
    expect(policy).toContain(`- grant assume_role to friends on ${domain}:role.borrowed`);
    expect(await athenz.cli.ok('-d', domain, 'add-delegated-role', 'borrowed', trusted)).toContain(
      `trust: ${trusted}`,
    );
    const role = await athenz.cli.json('-d', domain, 'show-role', 'borrowed');
    expect(role).toMatchObject({ name: `${domain}:role.borrowed`, trust: trusted });
    expect(role.roleMembers).toBeUndefined();
    const expanded = await athenz.cli.json('-d', domain, 'show-role', 'borrowed', 'expand');
    expect(memberNames(expanded.roleMembers)).toEqual(['user.f1', 'user.f2']);
    expect(expanded.trust).toBe(trusted);
  });
});

describe('zms-cli: get-signed-domains (what ZTS polls) with its ETag', () => {
  it('is for system principals: user.athenz_admin gets a 400 with an empty message', async () => {
    expect(await athenz.cli.error('get-signed-domains')).toEqual({ code: 400, message: '' });
  });

  it('a sys.* principal gets every domain and an ETag; with that tag, nothing until a domain changes', async () => {
    const zts = await athenz.as('sys.auth.zts');
    const domain = await freshDomain('clisigned');
    const first = await zts.cli.ok('get-signed-domains');
    const etag = /^ETag: (".*")$/m.exec(first)?.[1];
    expect(etag).toMatch(/^"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z"$/);
    expect(first).toContain(domain);
    // Nothing changed since the tag: ZMS answers 304, which zms-cli prints as null with -o json
    // (its YAML printer dereferences the absent body and panics, against the real ZMS too).
    expect(await zts.cli.json('get-signed-domains', etag!)).toBeNull();
    await athenz.cli.ok('-d', domain, 'add-member', 'admin', 'user.second');
    const changed = await zts.cli.json('get-signed-domains', etag!);
    expect(changed.domains.map((d: AnyJson) => d.domain.name)).toEqual([domain]);
    expect(memberNames(changed.domains[0].domain.roles[0].roleMembers)).toEqual([
      'user.athenz_admin',
      'user.second',
    ]);
    expect(changed.domains[0].signature).toEqual(expect.any(String));
  });
});
