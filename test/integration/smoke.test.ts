import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { Agent, request } from 'undici';
import { type ControlPlane, startControlPlane } from '../support/control-plane/control-plane.ts';
import { startZmsServer, type ZmsServer } from '../support/zms-server/server.ts';

let plane: ControlPlane;
let zms: ZmsServer;
let agent: Agent;

beforeAll(async () => {
  [plane, zms] = await Promise.all([
    startControlPlane(),
    startZmsServer({ adminPrincipals: ['user.athenz_admin'] }),
  ]);
  const admin = await zms.pki.issueClientCert('user.athenz_admin');
  agent = new Agent({ connect: { ca: zms.pki.caPem, cert: admin.certPem, key: admin.keyPem } });
}, 60_000);
afterAll(async () => {
  await agent?.close();
  await Promise.all([plane?.stop(), zms?.stop()]);
});

async function zmsCall(method: 'GET' | 'POST', path: string, body?: unknown) {
  const res = await request(`${zms.url}${path}`, {
    method,
    dispatcher: agent,
    headers: { 'content-type': 'application/json' },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.statusCode, json: (await res.body.json()) as { name?: string } };
}

describe('the two test servers together', () => {
  it('hold a Namespace made with client-node and its Athenz domain made over mTLS with undici', async () => {
    const core = plane.kubeConfig.makeApiClient(k8s.CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: 'smoke' } } });
    expect(
      (await zmsCall('POST', '/domain', { name: 'eks', adminUsers: ['user.athenz_admin'] })).status,
    ).toBe(200);
    const created = await zmsCall('POST', '/subdomain/eks', {
      name: 'smoke',
      parent: 'eks',
      adminUsers: ['user.athenz_admin'],
    });
    expect(created.status).toBe(200);

    expect((await core.readNamespace({ name: 'smoke' })).metadata?.name).toBe('smoke');
    const domain = await zmsCall('GET', '/domain/eks.smoke');
    expect(domain).toMatchObject({ status: 200, json: { name: 'eks.smoke' } });
  });
});
