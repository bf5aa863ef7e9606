import { describe, expect, it, jest } from '@jest/globals';
import { WorkQueue } from '../../../src/controller/workqueue.ts';
import { waitFor } from '../../support/wait.ts';

/** Runs the queue with a handler that records calls and can be held open per key. */
function harness(
  workers = 2,
  handle: (key: string) => Promise<{ requeueAfterMs?: number } | undefined> = async () => undefined,
) {
  const queue = new WorkQueue({ baseDelayMs: 10, maxDelayMs: 40 });
  const calls: string[] = [];
  const errors: string[] = [];
  let running = 0;
  let maxRunning = 0;
  const done = queue.run(
    workers,
    async (key) => {
      calls.push(key);
      running++;
      maxRunning = Math.max(maxRunning, running);
      try {
        return (await handle(key)) ?? {};
      } finally {
        running--;
      }
    },
    (key) => errors.push(key),
  );
  return { queue, calls, errors, done, maxRunning: () => maxRunning };
}

describe('WorkQueue', () => {
  it('coalesces a key added many times while it waits', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const q = harness(1, async (key) => {
      if (key === 'blocker') await gate;
      return undefined;
    });
    q.queue.add('blocker');
    await waitFor('the blocker to start', () => q.calls.length === 1);
    for (let i = 0; i < 5; i++) q.queue.add('a');
    expect(q.queue.depth).toBe(1);
    release();
    await waitFor('a to be handled', () => q.calls.includes('a'));
    await q.queue.shutdown(1_000);
    expect(q.calls).toEqual(['blocker', 'a']);
  });

  it('never runs one key twice at once, and runs it again after if it was re-added meanwhile', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let first = true;
    const q = harness(3, async () => {
      if (first) {
        first = false;
        await gate;
      }
      return undefined;
    });
    q.queue.add('k');
    await waitFor('k to start', () => q.calls.length === 1);
    q.queue.add('k');
    q.queue.add('k');
    expect(q.queue.depth).toBe(0);
    release();
    await waitFor('k to run a second time', () => q.calls.length === 2);
    await q.queue.shutdown(1_000);
    expect(q.calls).toEqual(['k', 'k']);
    expect(q.maxRunning()).toBe(1);
  });

  it('works different keys in parallel up to the worker count', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const q = harness(2, async () => {
      await gate;
      return undefined;
    });
    for (const k of ['a', 'b', 'c']) q.queue.add(k);
    await waitFor('two keys in flight', () => q.queue.active === 2);
    expect(q.queue.depth).toBe(1);
    release();
    await waitFor('all three handled', () => q.calls.length === 3);
    await q.queue.shutdown(1_000);
    expect(q.maxRunning()).toBe(2);
  });

  it('retries a failing key with a doubling backoff and forgets it on success', async () => {
    let failures = 3;
    const q = harness(1, async () => {
      if (failures-- > 0) throw new Error('boom');
      return undefined;
    });
    q.queue.add('k');
    await waitFor('four attempts', () => q.calls.length === 4, { timeoutMs: 2_000 });
    expect(q.errors).toEqual(['k', 'k', 'k']);
    await waitFor('the success to reset the failures', () => q.queue.failures('k') === 0);
    await q.queue.shutdown(1_000);
  });

  it('keeps the earliest of several delayed adds', () => {
    const queue = new WorkQueue();
    queue.addAfter('k', 60_000);
    queue.addAfter('k', 10);
    queue.addAfter('k', 30_000);
    return waitFor('k to be queued after 10 ms', () => queue.depth === 1, { timeoutMs: 1_000 }).finally(() =>
      queue.shutdown(10),
    );
  });

  it('requeues a key after the delay its handler asked for', async () => {
    const q = harness(1, async () => ({ requeueAfterMs: 20 }));
    q.queue.add('k');
    await waitFor('a second run', () => q.calls.length >= 2, { timeoutMs: 1_000 });
    await q.queue.shutdown(1_000);
  });

  it('takes nothing after shutdown and waits for the handlers in flight', async () => {
    let finished = false;
    const q = harness(1, async () => {
      await new Promise((r) => setTimeout(r, 50));
      finished = true;
      return undefined;
    });
    q.queue.add('k');
    await waitFor('k to start', () => q.calls.length === 1);
    await q.queue.shutdown(1_000);
    expect(finished).toBe(true);
    q.queue.add('late');
    await q.done;
    expect(q.calls).toEqual(['k']);
  });

  it('retries a failed key no sooner than the error asks (Retry-After), however short its backoff', async () => {
    jest.useFakeTimers();
    try {
      let attempts = 0;
      const q = harness(1, async () => {
        attempts++;
        if (attempts === 1) throw Object.assign(new Error('429'), { retryAfterMs: 30_000 });
        return undefined;
      });
      q.queue.add('a');
      await jest.advanceTimersByTimeAsync(1_000);
      expect(attempts).toBe(1);
      await jest.advanceTimersByTimeAsync(29_500);
      expect(attempts).toBe(2);
      await q.queue.shutdown(0);
    } finally {
      jest.useRealTimers();
    }
  });
});
