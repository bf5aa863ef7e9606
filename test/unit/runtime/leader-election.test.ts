import type http from 'node:http';
import { afterEach, describe, expect, it } from '@jest/globals';
import { LeaderElector } from '../../../src/runtime/leader-election.ts';
import { FakeApiServer, json } from '../../support/fakes/api-server.ts';
import { captureLogger } from '../../support/log-capture.ts';
import { waitFor } from '../../support/wait.ts';

/**
 * The elector against an API server that stops answering: a hung renewal must end in stepping
 * down (the renew deadline bounds every attempt), never in leading on while another replica
 * takes the Lease. The Lease protocol itself is tested with two processes on the real control
 * plane (test/integration/process/leader-election.test.ts).
 */
const timings = { leaseDurationMs: 6_000, renewDeadlineMs: 2_000, retryPeriodMs: 500 };

let stop: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const s of stop.reverse()) await s();
  stop = [];
});

/** An API server that stores one Lease; `hang` makes every later request go unanswered. */
async function leaseServer() {
  const api = new FakeApiServer();
  let lease: Record<string, { resourceVersion?: string }> | undefined;
  let version = 1;
  const state = { hang: false, renewals: 0 };
  const hung: http.ServerResponse[] = [];
  api.intercept = (req, res) => {
    if (state.hang) {
      hung.push(res);
      return true;
    }
    if (req.method === 'GET') {
      if (lease) json(res, 200, lease);
      else json(res, 404, { kind: 'Status', code: 404, reason: 'NotFound' });
      return true;
    }
    lease = JSON.parse(req.body);
    (lease as { metadata: { resourceVersion: string } }).metadata.resourceVersion = String(++version);
    state.renewals++;
    json(res, req.method === 'POST' ? 201 : 200, lease);
    return true;
  };
  const kubeConfig = await api.start();
  stop.push(() => api.stop());
  return { api, kubeConfig, state, hung };
}

describe('LeaderElector', () => {
  it('steps down when renewals hang, instead of leading on', async () => {
    const { kubeConfig, state, hung } = await leaseServer();
    const { log } = captureLogger();
    const elector = new LeaderElector(kubeConfig, {
      namespace: 'ns',
      name: 'l',
      identity: 'a',
      log,
      ...timings,
    });
    const events: string[] = [];
    const run = elector.run({
      onStartedLeading: () => events.push('started'),
      onStoppedLeading: () => events.push('stopped'),
    });
    stop.push(async () => {
      await elector.release();
      await run;
    });
    await waitFor('leadership and one renewal', () => elector.leading && state.renewals >= 2);

    state.hang = true;
    await waitFor('a renewal to hang', () => hung.length > 0);
    await waitFor('the elector to step down', () => events.includes('stopped'), { timeoutMs: 20_000 });
    expect(elector.leading).toBe(false);
    expect(events).toEqual(['started', 'stopped']);
    await run;
  });

  it.each([
    [{ leaseDurationMs: 2_000, renewDeadlineMs: 2_000, retryPeriodMs: 500 }, /lease duration/],
    [{ leaseDurationMs: 15_000, renewDeadlineMs: 1_000, retryPeriodMs: 1_000 }, /renew deadline/],
  ])('refuses timings that allow two leaders: %j', async (bad, message) => {
    const { kubeConfig } = await leaseServer();
    const { log } = captureLogger();
    expect(
      () => new LeaderElector(kubeConfig, { namespace: 'ns', name: 'l', identity: 'a', log, ...bad }),
    ).toThrow(message);
  });
});
