import * as k8s from '@kubernetes/client-node';
import type { Logger } from 'winston';
import { describeError } from '../kube/api-error.ts';
import { leaseTimingProblem } from './lease-timing.ts';

/**
 * Leader election on a coordination.k8s.io/v1 Lease, as client-go does it: a standby takes the
 * Lease once it has seen the same holder record unchanged for `leaseDurationMs` (judged by its
 * own clock, so clock skew between nodes does not matter); the leader renews every
 * `retryPeriodMs` and steps down when it could not renew for `renewDeadlineMs`; `release`
 * empties the holder so a standby takes over at once on a rolling update. Every write is guarded
 * by the Lease's resourceVersion, so two candidates can never both win the same round.
 *
 * Each attempt is bounded: a leader's renewal gets what is left of its renew deadline (a standby's
 * attempt gets the whole deadline), and is aborted when that runs out. A renewal that hangs
 * (a black-holed connection) therefore ends in stepping down before `leaseDurationMs` lets
 * another replica take the Lease, never in two leaders at once.
 */
export interface LeaderElectorOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  log: Logger;
  onLeadership?: (leading: boolean) => void;
}

export class LeaderElector {
  readonly #api: k8s.CoordinationV1Api;
  readonly #o: LeaderElectorOptions;
  #leading = false;
  #stopped = false;
  #observedRecord = '';
  #observedAt = 0;
  #lastRenew = 0;
  #wake: (() => void) | undefined;
  #attempt: Promise<boolean> | undefined;

  constructor(kubeConfig: k8s.KubeConfig, options: LeaderElectorOptions) {
    const problem = leaseTimingProblem(options);
    if (problem) throw new Error(problem);
    this.#api = kubeConfig.makeApiClient(k8s.CoordinationV1Api);
    this.#o = options;
  }

  get leading(): boolean {
    return this.#leading;
  }

  /** Campaigns until leading, calls `onStartedLeading`, then renews until the Lease is lost
   * (`onStoppedLeading`) or `release` is called. Resolves when it stops campaigning. */
  async run(callbacks: { onStartedLeading: () => void; onStoppedLeading: () => void }): Promise<void> {
    while (!this.#stopped) {
      const budgetMs = this.#leading
        ? Math.max(0, this.#lastRenew + this.#o.renewDeadlineMs - Date.now())
        : this.#o.renewDeadlineMs;
      this.#attempt = bounded(budgetMs, (signal) => this.#tryAcquireOrRenew(signal));
      const ok = await this.#attempt;
      if (this.#stopped) return;
      if (ok) this.#lastRenew = Date.now();
      if (ok && !this.#leading) {
        this.#setLeading(true);
        this.#o.log.info('acquired leader lease', { lease: this.#o.name, identity: this.#o.identity });
        callbacks.onStartedLeading();
      } else if (!ok && this.#leading && Date.now() - this.#lastRenew >= this.#o.renewDeadlineMs) {
        this.#setLeading(false);
        callbacks.onStoppedLeading();
        return;
      }
      await this.#sleep(this.#o.retryPeriodMs * (this.#leading ? 1 : 1 + Math.random() * 0.2));
    }
  }

  /** Stops campaigning and, when leading, hands the Lease back so a standby can take it now. */
  async release(): Promise<void> {
    this.#stopped = true;
    this.#wake?.();
    // A renewal in flight would make the release write conflict (409): let it land first.
    await this.#attempt;
    if (!this.#leading) return;
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          await this.#handBack();
          return;
        } catch (err) {
          if ((err as { code?: number }).code !== 409 || attempt >= 3) throw err;
        }
      }
    } catch (err) {
      this.#o.log.warn('could not release leader lease', { error: describeError(err) });
    } finally {
      this.#setLeading(false);
    }
  }

  async #handBack(): Promise<void> {
    const { name, namespace } = this.#o;
    const lease = await this.#api.readNamespacedLease({ name, namespace });
    if (lease.spec?.holderIdentity !== this.#o.identity) return;
    lease.spec = {
      ...lease.spec,
      holderIdentity: '',
      leaseDurationSeconds: 1,
      renewTime: new k8s.V1MicroTime(),
    };
    await this.#api.replaceNamespacedLease({ name, namespace, body: lease });
    this.#o.log.info('released leader lease', { lease: name });
  }

  async #tryAcquireOrRenew(signal: AbortSignal): Promise<boolean> {
    const { name, namespace, identity } = this.#o;
    const now = new k8s.V1MicroTime();
    const leaseDurationSeconds = Math.ceil(this.#o.leaseDurationMs / 1000);
    const options = abortWith(signal);
    try {
      let lease: k8s.V1Lease;
      try {
        lease = await this.#api.readNamespacedLease({ name, namespace }, options);
      } catch (err) {
        if ((err as { code?: number }).code !== 404) throw err;
        await this.#api.createNamespacedLease(
          {
            namespace,
            body: {
              metadata: { name, namespace },
              spec: {
                holderIdentity: identity,
                leaseDurationSeconds,
                acquireTime: now,
                renewTime: now,
                leaseTransitions: 0,
              },
            },
          },
          options,
        );
        return true;
      }
      const spec = lease.spec ?? {};
      const record = `${spec.holderIdentity ?? ''}|${spec.renewTime?.toISOString?.() ?? String(spec.renewTime)}`;
      if (record !== this.#observedRecord) {
        this.#observedRecord = record;
        this.#observedAt = Date.now();
      }
      const holder = spec.holderIdentity ?? '';
      const durationMs = (spec.leaseDurationSeconds ?? leaseDurationSeconds) * 1000;
      if (holder && holder !== identity && Date.now() < this.#observedAt + durationMs) return false;
      const transitions = (spec.leaseTransitions ?? 0) + (holder === identity ? 0 : 1);
      lease.spec = {
        holderIdentity: identity,
        leaseDurationSeconds,
        acquireTime: holder === identity ? (spec.acquireTime ?? now) : now,
        renewTime: now,
        leaseTransitions: transitions,
      };
      await this.#api.replaceNamespacedLease({ name, namespace, body: lease }, options);
      return true;
    } catch (err) {
      const code = (err as { code?: number }).code;
      if (code !== 409)
        this.#o.log.warn('leader lease update failed', { lease: name, error: describeError(err) });
      return false;
    }
  }

  #setLeading(leading: boolean) {
    this.#leading = leading;
    this.#o.onLeadership?.(leading);
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

/** Runs `attempt` with a signal that aborts after `ms`; a timed-out attempt counts as failed even
 * if the client ignores the signal. */
async function bounded(ms: number, attempt: (signal: AbortSignal) => Promise<boolean>): Promise<boolean> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => {
      controller.abort(new Error(`lease attempt timed out after ${ms} ms`));
      resolve(false);
    }, ms);
  });
  try {
    return await Promise.race([attempt(controller.signal), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** client-node request options that abort the request with `signal`. */
function abortWith(signal: AbortSignal): k8s.ConfigurationOptions {
  return {
    middleware: [
      {
        pre: (context) => {
          context.setSignal(signal);
          return new k8s.Observable(Promise.resolve(context));
        },
        post: (response) => new k8s.Observable(Promise.resolve(response)),
      },
    ],
    middlewareMergeStrategy: 'append',
  };
}
