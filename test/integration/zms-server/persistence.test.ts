import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { makeTestPki } from '../../support/pki.ts';
import { waitFor } from '../../support/wait.ts';
import { makeWorkdir } from '../../support/workdir.ts';
import { startZmsServer, type ZmsServer } from '../../support/zms-server/server.ts';
import { createDomain, putRole, ZmsTestClient } from './zms-client.ts';

/** Runs `body` with a client for the admin, then closes the client and stops the servers. */
async function withServers(
  servers: ZmsServer[],
  body: (client: (server: ZmsServer) => Promise<ZmsTestClient>) => Promise<void>,
): Promise<void> {
  const clients: ZmsTestClient[] = [];
  try {
    await body(async (server) => {
      const cert = await server.pki.loadOrIssueClientCert('user.athenz_admin');
      const client = new ZmsTestClient(server.url, server.pki.caPem, cert);
      clients.push(client);
      return client;
    });
  } finally {
    await Promise.all(clients.map((client) => client.close()));
    for (const server of servers) await server.stop();
  }
}

describe('ZMS test server: "server down" and restart', () => {
  it('stop() refuses connections; start() listens on the same port with the same state', async () => {
    const server = await startZmsServer();
    await withServers([server], async (client) => {
      const admin = await client(server);
      const domain = await createDomain(admin, 'restarted');
      const port = server.port;
      await server.stop();
      await expect(admin.get('/status')).rejects.toThrow(/ECONNREFUSED|connect/);
      await server.start();
      expect(server.port).toBe(port);
      const again = await admin.get('/domain/restarted');
      expect(again.status).toBe(200);
      expect(again.json.modified).toBe(domain.modified);
    });
  });

  it('stop() also closes idle keep-alive connections, so it returns at once', async () => {
    const server = await startZmsServer();
    await withServers([server], async (client) => {
      const admin = await client(server);
      expect((await admin.get('/status')).status).toBe(200);
      const started = performance.now();
      await server.stop();
      // Waiting for the idle connection to time out would take over a minute; anything well under
      // that shows it was closed (the bound is loose so that a saturated machine passes too).
      expect(performance.now() - started).toBeLessThan(30_000);
    });
  });

  it('hands the in-memory state over to a new server (option `store`)', async () => {
    const first = await startZmsServer();
    await withServers([first], async (client) => {
      await putRole(await client(first), 'sys', 'handover', ['user.a']);
      await first.stop();
      const second = await startZmsServer({ pki: first.pki, port: first.port, store: first.store });
      await withServers([second], async (client2) => {
        const role = await (await client2(second)).get('/domain/sys/role/handover');
        expect(role.status).toBe(200);
        expect(second.url).toBe(first.url);
      });
    });
  });
});

describe('ZMS test server: persistence to a state folder', () => {
  it('a new server on the same state folder has the same domains, roles and modified stamps', async () => {
    const stateDir = makeWorkdir('zms-state');
    const pki = await makeTestPki();
    const first = await startZmsServer({ pki, stateDir });
    let modified = '';
    await withServers([first], async (client) => {
      const admin = await client(first);
      await createDomain(admin, 'kept', { tags: { owner: { list: ['me'] } } });
      await putRole(admin, 'kept', 'readers', [
        { memberName: 'user.a', expiration: '2099-01-01T00:00:00.000Z' },
      ]);
      modified = (await admin.get('/domain/kept')).json.modified;
    });
    const second = await startZmsServer({ pki, stateDir });
    await withServers([second], async (client) => {
      const admin = await client(second);
      const domain = await admin.get('/domain/kept');
      expect(domain.json).toMatchObject({ modified, tags: { owner: { list: ['me'] } } });
      const role = await admin.get('/domain/kept/role/readers');
      expect(role.json.roleMembers).toEqual([
        expect.objectContaining({ memberName: 'user.a', expiration: '2099-01-01T00:00:00.000Z' }),
      ]);
      await putRole(admin, 'kept', 'writers', ['user.b']);
      const later = (await admin.get('/domain/kept')).json.modified;
      expect(Date.parse(later)).toBeGreaterThan(Date.parse(modified));
    });
  });

  it('writes changes to the state file shortly after they happen, without waiting for stop()', async () => {
    const stateDir = makeWorkdir('zms-state');
    const server = await startZmsServer({ stateDir });
    await withServers([server], async (client) => {
      await createDomain(await client(server), 'flushed');
      const file = join(stateDir, 'zms-state.json');
      await waitFor(
        'the state file to mention the new domain',
        () => existsSync(file) && readFileSync(file, 'utf8').includes('"flushed"'),
      );
    });
  });
});
