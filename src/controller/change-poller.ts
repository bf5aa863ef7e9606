import type { Logger } from 'winston';
import type { AthenzFailure } from '../core/status.ts';
import type { Metrics } from '../runtime/metrics.ts';
import type { ZmsClient } from '../zms/client.ts';
import { unreachableKind, ZmsError } from '../zms/errors.ts';
import type { AthenzCache } from './athenz-cache.ts';

/**
 * Finds out what changed in Athenz at the cost of one request per interval: it polls
 * `GET /sys/modified_domains?metaonly=true` with the last ETag; ZMS answers 304 while nothing
 * changed. A 200 names the changed domains: their cache entries (and those resolved through
 * them) are dropped and `onDomainsChanged` hears which namespace domains to reconcile. The first
 * poll has no ETag and so names every domain, which warms nothing but costs one request.
 * A failed poll is reported through `failure` (mappings show it as AthenzReachable=False) and
 * retried at the next tick (or later, when ZMS sent Retry-After); the first good poll after
 * failures triggers a full resync, as does the `resyncPeriodMs` timer, the safety net for
 * anything a poll could miss. No resync drops the cache while ZMS fails: its answers are the
 * last good ones, and expiry keeps being applied from them until ZMS is back.
 *
 * A deleted domain never shows in the modified list, so each tick also lists the subdomains of
 * every parent domain in use (one request per parent, only while some of its subdomains are
 * known to exist): a known domain missing from the list is dropped from the cache and reconciled
 * like a change, and ZMS then verifies it missing.
 */
export interface ChangePollerOptions {
  zms: ZmsClient;
  cache: AthenzCache;
  log: Logger;
  metrics: Metrics;
  /** The current poll period (the shortest syncInterval of the mappings). */
  intervalMs: () => number;
  resyncPeriodMs: number;
  /** The parent domains whose subdomains are namespaces' domains. */
  parentDomains: () => string[];
  onDomainsChanged: (domains: Set<string>, modified: Map<string, Date>) => void;
  onResync: () => void;
}

export class ChangePoller {
  readonly #o: ChangePollerOptions;
  #etag: string | undefined;
  #failure: AthenzFailure;
  #timer: NodeJS.Timeout | undefined;
  #lastResync = Date.now();
  #running = false;
  #scheduledDelayMs = 0;
  #retryAfterMs = 0;
  #stopped = true;
  /** Resolves the promise of a poll in flight, so `stop` can wait for it. */
  #inFlight: Promise<void> | undefined;

  constructor(options: ChangePollerOptions) {
    this.#o = options;
  }

  get failure(): AthenzFailure {
    return this.#failure;
  }

  start(): void {
    this.#stopped = false;
    this.#schedule(0);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#inFlight;
  }

  /** Polls now when the interval has become shorter than the wait already scheduled (a new
   * mapping, or a shorter syncInterval); otherwise keeps the schedule. */
  intervalMayHaveChanged(): void {
    if (this.#stopped || this.#running) return;
    if (this.#o.intervalMs() < this.#scheduledDelayMs) this.#schedule(0);
  }

  #schedule(delayMs: number): void {
    clearTimeout(this.#timer);
    this.#scheduledDelayMs = delayMs;
    this.#timer = setTimeout(() => {
      this.#inFlight = this.#tick().finally(() => {
        this.#inFlight = undefined;
      });
    }, delayMs);
  }

  async #tick(): Promise<void> {
    if (this.#stopped) return;
    this.#running = true;
    try {
      await this.#poll();
      if (!this.#failure) await this.#findDeletedDomains();
      if (!this.#failure && Date.now() - this.#lastResync >= this.#o.resyncPeriodMs) {
        this.#resync('periodic full resync');
      }
    } finally {
      this.#running = false;
      if (!this.#stopped) this.#schedule(Math.max(this.#o.intervalMs(), this.#retryAfterMs));
    }
  }

  async #findDeletedDomains(): Promise<void> {
    const { zms, cache, log } = this.#o;
    const stale = new Set<string>();
    const modified = new Map<string, Date>();
    for (const parent of new Set(this.#o.parentDomains())) {
      const known = cache.knownDomains(`${parent}.`);
      if (known.length === 0) continue;
      let names: Set<string>;
      try {
        names = new Set(await zms.listSubdomains(parent));
      } catch (err) {
        log.warn('listing subdomains failed; deletions are looked for at the next tick', {
          athenzDomain: parent,
          error: String(err),
        });
        continue;
      }
      // A domain created while the list was being read may be missing from it: dropping its
      // entry costs one read, which then finds it again.
      for (const name of known) {
        if (names.has(name)) continue;
        log.info('Athenz domain deleted', { athenzDomain: name });
        for (const d of cache.invalidate(name)) stale.add(d);
        modified.set(name, new Date());
      }
    }
    if (stale.size > 0) this.#o.onDomainsChanged(stale, modified);
  }

  #resync(message: string): void {
    this.#lastResync = Date.now();
    this.#o.cache.invalidateAll();
    this.#o.log.info(message);
    this.#o.onResync();
  }

  async #poll(): Promise<void> {
    const { zms, cache, metrics, log } = this.#o;
    try {
      const firstPoll = this.#etag === undefined;
      const result = await zms.getModifiedDomains(this.#etag);
      const recovered = this.#failure !== undefined;
      this.#failure = undefined;
      cache.setUnreachable(undefined);
      this.#retryAfterMs = 0;
      this.#etag = result.etag;
      if (recovered) this.#resync('ZMS reachable again; resyncing everything');
      if (!result.domains) {
        metrics.changePolls.inc({ result: 'not_modified' });
        return;
      }
      metrics.changePolls.inc({ result: 'changed' });
      const stale = new Set<string>();
      const modified = new Map<string, Date>();
      for (const d of result.domains) {
        for (const s of cache.invalidate(d.name)) stale.add(s);
        // The first answer lists every domain with its old modified time: not a change to time.
        if (d.modified && !firstPoll) modified.set(d.name, d.modified);
      }
      log.debug('Athenz domains changed', { count: result.domains.length });
      this.#o.onDomainsChanged(stale, modified);
    } catch (err) {
      metrics.changePolls.inc({ result: 'error' });
      const wasHealthy = this.#failure === undefined;
      this.#failure = toFailure(err);
      cache.setUnreachable(this.#failure.message);
      this.#retryAfterMs = err instanceof ZmsError ? (err.retryAfterMs ?? 0) : 0;
      log.warn('change poll failed', { error: String(err), retryAfterMs: this.#retryAfterMs || undefined });
      // Let every mapping report the outage now rather than at its next reconcile.
      if (wasHealthy) this.#o.onResync();
    }
  }
}

function toFailure(err: unknown): NonNullable<AthenzFailure> {
  if (err instanceof ZmsError) return { kind: unreachableKind(err), message: err.message };
  return { kind: 'Unavailable', message: String(err) };
}
