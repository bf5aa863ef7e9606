import { afterEach, describe, expect, it } from '@jest/globals';
import { createDomain, isoIn, putRole, useZmsServer } from './zms-client.ts';

const zms = useZmsServer({ adminPort: 0 });

afterEach(() => {
  zms.server.faults.clear();
  zms.server.clock.reset();
});

describe('ZMS test server: fault injection (in-process API)', () => {
  it('delays matching requests by `ms`, then answers normally', async () => {
    zms.server.faults.add({ kind: 'latency', ms: 300, match: { path: '/status' }, times: 1 });
    const started = performance.now();
    const answer = await zms.admin.get('/status');
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    expect(answer.status).toBe(200);
    expect(zms.server.faults.list()).toEqual([]);
  });

  it('answers the chosen status with ZMS error JSON and Retry-After', async () => {
    zms.server.faults.add({ kind: 'error', status: 503, retryAfter: 7 });
    const answer = await zms.admin.get('/domain/sys.auth');
    expect(answer.status).toBe(503);
    expect(answer.headers['retry-after']).toBe('7');
    expect(answer.json).toEqual({ code: 503, message: 'Service Unavailable' });
  });

  it('answers a chosen raw body, for clients that must cope with non-JSON errors', async () => {
    zms.server.faults.add({ kind: 'error', status: 429, body: 'slow down', retryAfter: '1' });
    const answer = await zms.admin.get('/status');
    expect(answer.status).toBe(429);
    expect(answer.text).toBe('slow down');
  });

  it('acts only on requests matching the method and path prefix', async () => {
    zms.server.faults.add({
      kind: 'error',
      status: 500,
      match: { method: 'GET', path: '/domain/sys.auth/role' },
    });
    expect((await zms.admin.get('/domain/sys.auth/role/admin')).status).toBe(500);
    expect((await zms.admin.get('/domain/sys.auth')).status).toBe(200);
    expect((await zms.admin.get('/status')).status).toBe(200);
  });

  it('matches a path regex (with or without /zms/v1) or a route key', async () => {
    zms.server.faults.add({
      kind: 'error',
      status: 502,
      match: { pathRegex: '^/zms/v1/domain/[^/]+/roles$' },
    });
    zms.server.faults.add({ kind: 'error', status: 504, match: { route: 'GET /domain/{domain}/member' } });
    expect((await zms.admin.get('/domain/sys/roles')).status).toBe(502);
    expect((await zms.admin.get('/domain/sys/member')).status).toBe(504);
    expect((await zms.admin.get('/domain/sys/role')).status).toBe(200);
  });

  it('acts only the next N times when `times` is set', async () => {
    zms.server.faults.add({ kind: 'error', status: 503, times: 2 });
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await zms.admin.get('/status')).status);
    expect(statuses).toEqual([503, 503, 200]);
  });

  it('resets the connection without an answer', async () => {
    zms.server.faults.add({ kind: 'reset', times: 1 });
    await expect(zms.admin.get('/status')).rejects.toThrow();
    expect((await zms.admin.get('/status')).status).toBe(200);
  });

  it('truncates the body: the full length is announced, half is sent, the connection closes', async () => {
    zms.server.faults.add({ kind: 'truncate', times: 1 });
    await expect(zms.admin.get('/domain/sys.auth')).rejects.toThrow();
    expect((await zms.admin.get('/domain/sys.auth')).status).toBe(200);
  });

  it('sends a complete answer whose JSON body does not parse', async () => {
    zms.server.faults.add({ kind: 'malformed', times: 1 });
    const answer = await zms.admin.get('/domain/sys.auth');
    expect(answer.status).toBe(200);
    expect(answer.text.length).toBeGreaterThan(0);
    expect(() => JSON.parse(answer.text)).toThrow();
  });

  it('acts before authentication, as a proxy or a sick server would', async () => {
    zms.server.faults.add({ kind: 'error', status: 503 });
    expect((await zms.anonymous().get('/status')).status).toBe(503);
  });
});

describe('ZMS test server: request counters', () => {
  it('counts requests per method + route template and per status', async () => {
    const domain = zms.unique('count');
    await createDomain(zms.admin, domain);
    zms.server.counters.reset();
    await zms.admin.get(`/domain/${domain}/role/admin`);
    await zms.admin.get(`/domain/${domain}/role/admin`);
    await zms.admin.get(`/domain/${domain}/role/missing`);
    await zms.admin.put(`/domain/${domain}/role/admin/member/user.a`, { memberName: 'user.a' });
    const counts = zms.server.counters.snapshot();
    expect(counts.total).toBe(4);
    expect(counts.byRoute).toEqual({
      'GET /domain/{domain}/role/{role}': 3,
      'PUT /domain/{domain}/role/{role}/member/{member}': 1,
    });
    expect(counts.byStatus).toEqual({ '200': 2, '404': 1, '204': 1 });
    expect(counts.byRouteAndStatus['GET /domain/{domain}/role/{role}']).toEqual({ '200': 2, '404': 1 });
    expect(zms.server.counters.count('GET /domain/{domain}/role/{role}', 404)).toBe(1);
  });

  it('counts injected faults with their status, resets as "reset", unknown paths as unmatched', async () => {
    zms.server.counters.reset();
    zms.server.faults.add({ kind: 'error', status: 503, times: 1 });
    zms.server.faults.add({ kind: 'reset', times: 1 });
    await zms.admin.get('/status');
    await expect(zms.admin.get('/status')).rejects.toThrow();
    await zms.admin.get('/no/such/path');
    expect(zms.server.counters.snapshot().byRouteAndStatus).toEqual({
      'GET /status': { '503': 1, reset: 1 },
      'GET (unmatched)': { '404': 1 },
    });
    zms.server.counters.reset();
    expect(zms.server.counters.snapshot()).toEqual({
      total: 0,
      byRoute: {},
      byStatus: {},
      byRouteAndStatus: {},
    });
  });
});

describe('ZMS test server: admin HTTP API', () => {
  const admin = async (method: string, path: string, body?: unknown) => {
    const answer = await fetch(`${zms.server.adminUrl}${path}`, {
      method,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await answer.text();
    return { status: answer.status, json: text ? JSON.parse(text) : undefined };
  };

  it('adds, lists and removes faults', async () => {
    const added = await admin('POST', '/admin/faults', {
      kind: 'error',
      status: 503,
      retryAfter: 2,
      match: { path: '/status' },
    });
    expect(added.status).toBe(201);
    const answer = await zms.admin.get('/status');
    expect(answer.status).toBe(503);
    expect(answer.headers['retry-after']).toBe('2');
    const listed = await admin('GET', '/admin/faults');
    expect(listed.json.faults).toEqual([
      expect.objectContaining({ id: added.json.id, kind: 'error', hits: 1 }),
    ]);
    expect((await admin('DELETE', `/admin/faults/${added.json.id}`)).status).toBe(204);
    expect((await zms.admin.get('/status')).status).toBe(200);
  });

  it('rejects a fault rule that does not make sense with 400', async () => {
    expect((await admin('POST', '/admin/faults', { kind: 'explode' })).status).toBe(400);
    expect((await admin('POST', '/admin/faults', { kind: 'error' })).status).toBe(400);
  });

  it('reads and resets the counters', async () => {
    await admin('DELETE', '/admin/counters');
    await zms.admin.get('/domain/sys');
    const counters = await admin('GET', '/admin/counters');
    expect(counters.json.byRoute).toEqual({ 'GET /domain/{domain}': 1 });
    expect((await admin('DELETE', '/admin/counters')).status).toBe(204);
    expect((await admin('GET', '/admin/counters')).json.total).toBe(0);
  });

  it('moves the clock: a membership that expires in an hour reads isMember:false two hours later', async () => {
    const domain = zms.unique('clock');
    await createDomain(zms.admin, domain);
    await putRole(zms.admin, domain, 'r', [{ memberName: 'user.soon', expiration: isoIn(3_600_000) }]);
    const path = `/domain/${domain}/role/r/member/user.soon`;
    expect((await zms.admin.get(path)).json.isMember).toBe(true);
    const moved = await admin('POST', '/admin/clock', { advanceMs: 7_200_000 });
    expect(moved.json.offsetMs).toBeGreaterThanOrEqual(7_199_000);
    expect((await zms.admin.get(path)).json.isMember).toBe(false);
    await admin('POST', '/admin/clock', { offsetMs: 0 });
    expect((await zms.admin.get(path)).json.isMember).toBe(true);
  });

  it('takes the ZMS listener down and up again on the same port with the same state', async () => {
    const domain = zms.unique('downup');
    await createDomain(zms.admin, domain);
    const port = zms.server.port;
    expect((await admin('POST', '/admin/down')).status).toBe(204);
    await expect(zms.admin.get('/status')).rejects.toThrow();
    expect((await admin('GET', '/admin/info')).json.running).toBe(false);
    expect((await admin('POST', '/admin/up')).status).toBe(204);
    expect(zms.server.port).toBe(port);
    expect((await zms.admin.get(`/domain/${domain}`)).status).toBe(200);
  });

  it('sets systemDisabled on a member', async () => {
    const domain = zms.unique('sysdis');
    await createDomain(zms.admin, domain);
    await putRole(zms.admin, domain, 'r', ['user.x']);
    const answer = await admin('POST', '/admin/system-disabled', {
      domain,
      role: 'r',
      member: 'user.x',
      systemDisabled: 2,
    });
    expect(answer.status).toBe(204);
    const role = await zms.admin.get(`/domain/${domain}/role/r`);
    expect(role.json.roleMembers[0].systemDisabled).toBe(2);
  });

  it('resets to the bootstrap state (last: it wipes the domains of this file)', async () => {
    const domain = zms.unique('wiped');
    await createDomain(zms.admin, domain);
    await admin('POST', '/admin/faults', { kind: 'latency', ms: 1 });
    expect((await admin('POST', '/admin/reset')).status).toBe(204);
    expect((await zms.admin.get(`/domain/${domain}`)).status).toBe(404);
    expect((await zms.admin.get('/domain/sys.auth/role/admin')).status).toBe(200);
    expect((await admin('GET', '/admin/faults')).json.faults).toEqual([]);
    expect((await admin('GET', '/admin/counters')).json.byRoute).toEqual({
      'GET /domain/{domain}': 1,
      'GET /domain/{domain}/role/{role}': 1,
    });
  });
});
