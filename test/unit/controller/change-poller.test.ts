import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { AthenzCache } from '../../../src/controller/athenz-cache.ts';
import { ChangePoller } from '../../../src/controller/change-poller.ts';
import { createMetrics } from '../../../src/runtime/metrics.ts';
import { FakeZms, rateLimited, unavailable } from '../../support/fakes/zms.ts';
import { captureLogger } from '../../support/log-capture.ts';

/**
 * The change poller on a fake ZMS and jest's fake clock: which polls happen when, and what each
 * outcome does to the cache. The clock is fake so that "not before 60 s" is a fact, not a wait.
 */
function setup(options: { resyncPeriodMs?: number } = {}) {
  const zms = new FakeZms().addDomain('eks.users.team-a');
  zms.setRole('eks.users.team-a', 'viewers', ['user.jane']);
  const cache = new AthenzCache(zms);
  const events = { changed: [] as string[][], resyncs: 0 };
  const poller = new ChangePoller({
    zms,
    cache,
    log: captureLogger().log,
    metrics: createMetrics({ defaultMetrics: false }),
    intervalMs: () => 1_000,
    resyncPeriodMs: options.resyncPeriodMs ?? 600_000,
    parentDomains: () => ['eks.users'],
    onDomainsChanged: (domains) => events.changed.push([...domains]),
    onResync: () => events.resyncs++,
  });
  return { zms, cache, poller, events };
}

afterEach(() => {
  jest.useRealTimers();
});

describe('ChangePoller', () => {
  it('keeps the cached answers through a failed poll at resync time, and resyncs once ZMS is back', async () => {
    jest.useFakeTimers();
    const t = setup({ resyncPeriodMs: 5_000 });
    t.poller.start();
    await jest.advanceTimersByTimeAsync(0);
    expect(t.zms.count('getModifiedDomains')).toBe(1);
    await t.cache.domain('eks.users.team-a');

    t.zms.fail('getModifiedDomains', unavailable);
    await jest.advanceTimersByTimeAsync(10_000);
    expect(t.poller.failure).toMatchObject({ kind: 'Unavailable' });
    // The resync came due during the outage: the last good answer is still served.
    await t.cache.domain('eks.users.team-a');
    expect(t.zms.count('getRoles')).toBe(1);
    // A miss fails at once while the poll fails, without a request that would only time out.
    t.zms.addDomain('eks.users.team-new');
    await expect(t.cache.domain('eks.users.team-new')).rejects.toThrow(/not sent: ZMS is unreachable/);
    expect(t.zms.count('getRoles')).toBe(1);

    t.zms.heal();
    const resyncsBefore = t.events.resyncs;
    await jest.advanceTimersByTimeAsync(1_000);
    expect(t.poller.failure).toBeUndefined();
    expect(t.events.resyncs).toBe(resyncsBefore + 1);
    await t.cache.domain('eks.users.team-a');
    expect(t.zms.count('getRoles')).toBe(2);
    await t.poller.stop();
  });

  it('waits what Retry-After asks before polling again', async () => {
    jest.useFakeTimers();
    const t = setup();
    t.zms.fail('getModifiedDomains', rateLimited(60_000), 1);
    t.poller.start();
    await jest.advanceTimersByTimeAsync(0);
    expect(t.poller.failure).toMatchObject({ kind: 'RateLimited' });
    await jest.advanceTimersByTimeAsync(59_000);
    expect(t.zms.count('getModifiedDomains')).toBe(1);
    await jest.advanceTimersByTimeAsync(1_500);
    expect(t.zms.count('getModifiedDomains')).toBe(2);
    expect(t.poller.failure).toBeUndefined();
    await t.poller.stop();
  });

  it('drops only the changed domain from the cache and names it', async () => {
    jest.useFakeTimers();
    const t = setup();
    t.zms.addDomain('eks.users.team-b').setRole('eks.users.team-b', 'viewers', []);
    t.poller.start();
    await jest.advanceTimersByTimeAsync(0);
    await t.cache.domain('eks.users.team-a');
    await t.cache.domain('eks.users.team-b');
    t.zms.markChanged('eks.users.team-b');
    await jest.advanceTimersByTimeAsync(1_000);
    expect(t.events.changed.at(-1)).toEqual(['eks.users.team-b']);
    await t.cache.domain('eks.users.team-a');
    await t.cache.domain('eks.users.team-b');
    expect(t.zms.calls.filter((c) => c.call === 'getRoles').map((c) => c.args[0])).toEqual([
      'eks.users.team-a',
      'eks.users.team-b',
      'eks.users.team-b',
    ]);
    await t.poller.stop();
  });

  it('notices a deleted domain within one tick, though it never shows as modified', async () => {
    jest.useFakeTimers();
    const t = setup();
    t.poller.start();
    await jest.advanceTimersByTimeAsync(0);
    await t.cache.domain('eks.users.team-a');
    t.zms.domains.delete('eks.users.team-a');
    await jest.advanceTimersByTimeAsync(1_000);
    expect(t.events.changed.at(-1)).toEqual(['eks.users.team-a']);
    // Dropped from the cache: the next read asks ZMS, which verifies it is gone.
    await expect(t.cache.domain('eks.users.team-a')).resolves.toEqual({ exists: false });
    await t.poller.stop();
  });
});
