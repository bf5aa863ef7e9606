import { copyFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createZmsClient, type ZmsClient } from '../../../src/zms/client.ts';
import { ZmsError } from '../../../src/zms/errors.ts';
import { makeTestPki } from '../../support/pki.ts';
import { waitFor } from '../../support/wait.ts';
import { makeWorkdir } from '../../support/workdir.ts';
import { ZmsAdmin } from '../../support/zms-admin.ts';
import { startZmsServer, type ZmsServer } from '../../support/zms-server/server.ts';

let zms: ZmsServer;
let admin: ZmsAdmin;
let dir: string;
const clients: ZmsClient[] = [];

beforeAll(async () => {
  zms = await startZmsServer({ adminPrincipals: ['user.athenz_admin'] });
  admin = new ZmsAdmin(zms.url, zms.pki.caPem, await zms.pki.issueClientCert('user.athenz_admin'));
  await admin.ensureDomain('client', ['user.athenz_admin']);
  await admin.putRole('client', 'readers', [
    'user.alice',
    { memberName: 'user.bob', expiration: '2030-01-01T00:00:00.000Z' },
  ]);
  dir = makeWorkdir('zms-client');
}, 30_000);
afterAll(async () => {
  for (const c of clients) await c.close();
  await admin.close();
  await zms.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function clientAs(principal: string, options: Partial<Parameters<typeof createZmsClient>[0]> = {}) {
  const cert = await zms.pki.issueClientCert(principal);
  const client = createZmsClient({
    url: zms.url,
    tls: { certFile: cert.certPath, keyFile: cert.keyPath, caFile: zms.pki.caPath },
    timeoutMs: 1_000,
    backoff: { baseMs: 10, maxMs: 50 },
    ...options,
  });
  clients.push(client);
  return client;
}

async function failure(promise: Promise<unknown>): Promise<ZmsError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof ZmsError)) throw new Error(`expected a ZmsError, got ${String(err)}`);
  return err;
}

describe('the ZMS client', () => {
  it('reads roles with their members, validated and typed', async () => {
    const client = await clientAs('user.reader');
    const roles = await client.getRoles('client');
    const readers = roles.find((r) => r.name === 'client:role.readers');
    expect(readers?.roleMembers.map((m) => m.memberName)).toEqual(['user.alice', 'user.bob']);
    expect(readers?.roleMembers[1]?.expiration).toEqual(new Date('2030-01-01T00:00:00.000Z'));
    expect(readers?.roleMembers[0]?.active).toBe(true);
  });

  it('answers undefined only for a verified 404, and a typed error otherwise', async () => {
    const client = await clientAs('user.reader');
    expect(await client.getRole('client', 'missing')).toBeUndefined();
    expect(await client.getDomain('no-such-domain')).toBeUndefined();
    expect((await failure(client.getRoles('no-such-domain'))).kind).toBe('NotFound');
    const forbidden = await failure(client.putRole('client', 'new', []));
    expect(forbidden.kind).toBe('Forbidden');
    expect(forbidden.status).toBe(403);
  });

  it('polls for changes with the ETag: 304 while nothing changed, then the changed domain', async () => {
    const client = await clientAs('user.reader');
    const first = await client.getModifiedDomains();
    expect(first.domains?.map((d) => d.name)).toContain('client');
    const quiet = await client.getModifiedDomains(first.etag);
    expect(quiet.domains).toBeUndefined();
    await admin.addMember('client', 'readers', 'user.carol');
    const changed = await client.getModifiedDomains(quiet.etag);
    expect(changed.domains?.map((d) => d.name)).toEqual(['client']);
  });

  it('retries a 503 and honours Retry-After', async () => {
    const client = await clientAs('user.reader');
    zms.faults.add({
      kind: 'error',
      status: 503,
      retryAfter: 1,
      match: { route: 'GET /domain/{domain}' },
      times: 1,
    });
    const started = Date.now();
    expect((await client.getDomain('client'))?.name).toBe('client');
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
  });

  it('gives up after its attempts with a retryable error, never a guess', async () => {
    const client = await clientAs('user.reader', { maxAttempts: 3 });
    zms.faults.add({ kind: 'error', status: 500, match: { route: 'GET /domain/{domain}/roles' }, times: 3 });
    const err = await failure(client.getRoles('client'));
    expect(err.kind).toBe('Unavailable');
    expect(err.retryable).toBe(true);
  });

  it('fails fast while ZMS is known to be down, and retries again once it answers', async () => {
    const client = await clientAs('user.reader', { maxAttempts: 4 });
    const route = 'GET /domain/{domain}';
    zms.faults.add({ kind: 'error', status: 500, match: { route }, times: 5 });
    const before = zms.counters.count(route);
    expect((await failure(client.getDomain('client'))).kind).toBe('Unavailable');
    expect(zms.counters.count(route) - before).toBe(4);
    // Known down: one attempt, no backoff sleeps holding the reconcile.
    expect((await failure(client.getDomain('client'))).kind).toBe('Unavailable');
    expect(zms.counters.count(route) - before).toBe(5);
    // The fault is used up: an answer makes ZMS reachable again, and retries come back.
    expect((await client.getDomain('client'))?.name).toBe('client');
    zms.faults.add({ kind: 'error', status: 500, match: { route }, times: 1 });
    expect((await client.getDomain('client'))?.name).toBe('client');
  });

  it('sends the change poll outside the limit that reconciles share', async () => {
    const client = await clientAs('user.reader', { concurrency: 1, timeoutMs: 60_000 });
    const slow = zms.faults.add({
      kind: 'latency',
      ms: 30_000,
      match: { route: 'GET /domain/{domain}/roles' },
      times: 1,
    });
    let rolesSettled = false;
    const roles = client.getRoles('client').finally(() => {
      rolesSettled = true;
    });
    // A rule used up is gone: the slow read has reached ZMS and holds the only slot.
    await waitFor('the slow read to reach ZMS', () => !zms.faults.list().some((f) => f.id === slow));
    const poll = await client.getModifiedDomains();
    expect(poll.etag).toBeTruthy();
    expect(rolesSettled).toBe(false);
    await client.close();
    await roles.catch(() => undefined);
  });

  it('reports a body that does not validate as InvalidResponse', async () => {
    const client = await clientAs('user.reader', { maxAttempts: 1 });
    zms.faults.add({ kind: 'malformed', match: { route: 'GET /domain/{domain}/roles' }, times: 1 });
    expect((await failure(client.getRoles('client'))).kind).toBe('InvalidResponse');
    zms.faults.add({
      kind: 'error',
      status: 200,
      body: { list: [{ roleMembers: [] }] },
      match: { route: 'GET /domain/{domain}/roles' },
      times: 1,
    });
    const err = await failure(client.getRoles('client'));
    expect(err.kind).toBe('InvalidResponse');
    expect(err.message).toMatch(/list\.0\.name/);
  });

  it('times out a slow answer', async () => {
    const client = await clientAs('user.reader', { maxAttempts: 1, timeoutMs: 200 });
    zms.faults.add({ kind: 'latency', ms: 1_000, match: { route: 'GET /domain/{domain}' }, times: 1 });
    expect((await failure(client.getDomain('client'))).kind).toBe('Unavailable');
  });

  it('does not repeat a POST whose connection was lost, since ZMS may have acted on it', async () => {
    const client = await clientAs('user.athenz_admin', { maxAttempts: 4 });
    zms.faults.add({ kind: 'reset', match: { route: 'POST /subdomain/{parent}' }, times: 1 });
    const before = zms.counters.count('POST /subdomain/{parent}');
    expect(
      (await failure(client.createSubdomain('client', 'once', { adminUsers: ['user.athenz_admin'] }))).kind,
    ).toBe('Unavailable');
    expect(zms.counters.count('POST /subdomain/{parent}') - before).toBe(1);
  });

  it('refuses a server whose certificate is not signed by the configured CA', async () => {
    const other = await makeTestPki();
    const cert = await zms.pki.issueClientCert('user.reader');
    const client = createZmsClient({
      url: zms.url,
      tls: { certFile: cert.certPath, keyFile: cert.keyPath, caFile: other.caPath },
      maxAttempts: 1,
    });
    clients.push(client);
    expect((await failure(client.getDomain('client'))).kind).toBe('Tls');
  });

  it('refuses a plain-http URL: TLS cannot be turned off', () => {
    expect(() =>
      createZmsClient({
        url: 'http://127.0.0.1:1/zms/v1',
        tls: { certFile: 'x', keyFile: 'y', caFile: 'z' },
      }),
    ).toThrow(/must be https/);
  });

  it('picks up a rotated client certificate without a restart', async () => {
    const first = await zms.pki.issueClientCert('user.rotating-one');
    const second = await zms.pki.issueClientCert('user.rotating-two');
    const certFile = join(dir, 'tls.crt');
    const keyFile = join(dir, 'tls.key');
    copyFileSync(first.certPath, certFile);
    copyFileSync(first.keyPath, keyFile);
    let reloads = 0;
    const client = createZmsClient({
      url: zms.url,
      tls: { certFile, keyFile, caFile: zms.pki.caPath },
      onCredentialsReload: () => reloads++,
    });
    clients.push(client);
    await admin.ensureDomain('rotation', ['user.athenz_admin', 'user.rotating-two']);
    expect((await failure(client.putRole('rotation', 'r', []))).kind).toBe('Forbidden');
    copyFileSync(second.certPath, certFile);
    copyFileSync(second.keyPath, keyFile);
    await waitFor('the new certificate to be used', async () => {
      try {
        await client.putRole('rotation', 'r', []);
        return true;
      } catch {
        return false;
      }
    });
    expect(reloads).toBeGreaterThanOrEqual(1);
  });
});
