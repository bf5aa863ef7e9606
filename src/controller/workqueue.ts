/**
 * A keyed work queue in the manner of client-go's: a key waiting twice is queued once; a key is
 * never handled by two workers at once (re-adding it while it runs queues it again for after);
 * a failed key comes back after a per-key exponential backoff that `forget` resets; `addAfter`
 * schedules a key for later, keeping the earliest time asked for.
 */
export interface WorkQueueOptions {
  baseDelayMs?: number;
  maxDelayMs?: number;
  onAdd?: () => void;
  onRetry?: () => void;
  onDepth?: (depth: number) => void;
}

export interface HandlerResult {
  /** Come back after this long even without an event (e.g. at the next member expiry). */
  requeueAfterMs?: number | undefined;
}

export class WorkQueue {
  readonly #options: Required<Pick<WorkQueueOptions, 'baseDelayMs' | 'maxDelayMs'>> & WorkQueueOptions;
  readonly #queue: string[] = [];
  readonly #dirty = new Set<string>();
  readonly #processing = new Set<string>();
  readonly #failures = new Map<string, number>();
  readonly #timers = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  readonly #waiters: Array<(key: string | undefined) => void> = [];
  #shuttingDown = false;

  constructor(options: WorkQueueOptions = {}) {
    this.#options = { baseDelayMs: 200, maxDelayMs: 60_000, ...options };
  }

  get depth(): number {
    return this.#queue.length;
  }

  /** Keys currently being handled. */
  get active(): number {
    return this.#processing.size;
  }

  add(key: string): void {
    if (this.#shuttingDown || this.#dirty.has(key)) return;
    this.#dirty.add(key);
    this.#options.onAdd?.();
    if (this.#processing.has(key)) return;
    const waiter = this.#waiters.shift();
    if (waiter) {
      this.#take(key);
      waiter(key);
    } else {
      this.#queue.push(key);
      this.#options.onDepth?.(this.#queue.length);
    }
  }

  addAfter(key: string, delayMs: number): void {
    if (this.#shuttingDown) return;
    if (delayMs <= 0) {
      this.add(key);
      return;
    }
    const at = Date.now() + delayMs;
    const pending = this.#timers.get(key);
    if (pending && pending.at <= at) return;
    if (pending) clearTimeout(pending.timer);
    const timer = setTimeout(() => {
      this.#timers.delete(key);
      this.add(key);
    }, delayMs);
    timer.unref();
    this.#timers.set(key, { at, timer });
  }

  /** Re-adds a failed key after its backoff, which doubles with each consecutive failure, and
   * is never shorter than `minDelayMs` (what the failing server asked for, e.g. Retry-After). */
  addWithBackoff(key: string, minDelayMs = 0): number {
    const failures = this.#failures.get(key) ?? 0;
    this.#failures.set(key, failures + 1);
    const backoff = Math.min(this.#options.maxDelayMs, this.#options.baseDelayMs * 2 ** failures);
    const delay = Math.max(backoff, minDelayMs);
    this.#options.onRetry?.();
    this.addAfter(key, delay);
    return delay;
  }

  forget(key: string): void {
    this.#failures.delete(key);
  }

  failures(key: string): number {
    return this.#failures.get(key) ?? 0;
  }

  /** Runs `workers` loops that hand each key to `handler` until `shutdown`. */
  run(
    workers: number,
    handler: (key: string) => Promise<HandlerResult>,
    onError: (key: string, err: unknown) => void,
  ) {
    const loops = Array.from({ length: workers }, async () => {
      for (;;) {
        const key = await this.#next();
        if (key === undefined) return;
        try {
          const result = await handler(key);
          this.forget(key);
          if (result.requeueAfterMs !== undefined) this.addAfter(key, result.requeueAfterMs);
        } catch (err) {
          onError(key, err);
          this.addWithBackoff(key, retryAfterOf(err));
        } finally {
          this.#done(key);
        }
      }
    });
    return Promise.all(loops).then(() => undefined);
  }

  /** Stops taking keys; resolves when the handlers in flight have finished or `deadlineMs` passed. */
  async shutdown(deadlineMs = 30_000): Promise<void> {
    this.#shuttingDown = true;
    for (const { timer } of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
    this.#queue.length = 0;
    for (const waiter of this.#waiters.splice(0)) waiter(undefined);
    const deadline = Date.now() + deadlineMs;
    while (this.#processing.size > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  #next(): Promise<string | undefined> {
    if (this.#shuttingDown) return Promise.resolve(undefined);
    const key = this.#queue.shift();
    if (key !== undefined) {
      this.#options.onDepth?.(this.#queue.length);
      this.#take(key);
      return Promise.resolve(key);
    }
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  #take(key: string): void {
    this.#dirty.delete(key);
    this.#processing.add(key);
  }

  #done(key: string): void {
    this.#processing.delete(key);
    if (this.#dirty.has(key) && !this.#shuttingDown) {
      this.#dirty.delete(key);
      this.add(key);
    }
  }
}

/** The least wait a failure asks for: its `retryAfterMs`, when it has one. */
function retryAfterOf(err: unknown): number {
  const ms = (err as { retryAfterMs?: unknown } | undefined)?.retryAfterMs;
  return typeof ms === 'number' && ms > 0 ? ms : 0;
}
