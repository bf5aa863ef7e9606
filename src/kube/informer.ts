import * as k8s from '@kubernetes/client-node';
import type { Logger } from 'winston';
import { describeError } from './api-error.ts';

/**
 * A client-node informer that keeps running. client-node stops an informer on any watch error
 * other than 410 Gone and leaves the restart to the caller; this one restarts it with
 * exponential backoff (1 s doubling to 30 s), resuming from the last resourceVersion (a 410
 * then makes client-node relist and emit deletes for objects that vanished meanwhile).
 * Handlers never throw into client-node (which would swallow the error): they are caught and
 * logged here.
 *
 * `start()` resolves only once a list has succeeded, as controller-runtime's WaitForSync: a cache
 * that never listed is empty, and acting on it would look like "every object is gone".
 * `healthy` is false from a watch error until the next successful list, so callers can hold
 * decisions that would remove access while the cache may be behind.
 */
export interface InformerHandlers<T> {
  onChange: (obj: T, verb: 'add' | 'update' | 'delete') => void;
  /** The cache became healthy again after a watch error (also after the first list). */
  onHealthy?: () => void;
}

export class ResilientInformer<T extends k8s.KubernetesObject> {
  readonly name: string;
  readonly #informer: k8s.Informer<T> & k8s.ObjectCache<T>;
  readonly #log: Logger;
  readonly #handlers: InformerHandlers<T>;
  #synced = false;
  #healthy = false;
  #stopped = false;
  #onSynced: (() => void) | undefined;
  #syncedOnce: Promise<void>;
  #failures = 0;
  #restartTimer: NodeJS.Timeout | undefined;
  /** Counts restarts after watch errors (for metrics and tests). */
  restarts = 0;

  constructor(
    name: string,
    kubeConfig: k8s.KubeConfig,
    path: string,
    list: () => Promise<k8s.KubernetesListObject<T>>,
    handlers: InformerHandlers<T>,
    log: Logger,
    labelSelector?: string,
  ) {
    this.name = name;
    this.#log = log;
    this.#handlers = handlers;
    this.#syncedOnce = new Promise((resolve) => {
      this.#onSynced = resolve;
    });
    this.#informer = k8s.makeInformer(kubeConfig, path, list, labelSelector);
    for (const verb of ['add', 'update', 'delete'] as const) {
      this.#informer.on(verb, (obj: T) => {
        this.#failures = 0;
        try {
          handlers.onChange(obj, verb);
        } catch (err) {
          this.#log.error('informer handler failed', { informer: name, verb, error: describeError(err) });
        }
      });
    }
    this.#informer.on('error', (err: unknown) => this.#scheduleRestart(err));
  }

  /** Resolves once a list has succeeded (retrying failed lists with backoff), or on `stop()`. */
  async start(): Promise<void> {
    this.#stopped = false;
    void this.#startOnce();
    await this.#syncedOnce;
  }

  /** A list has succeeded at least once. */
  get synced(): boolean {
    return this.#synced;
  }

  /** The cache reflects the API server: synced, and no watch error since the last good list. */
  get healthy(): boolean {
    return this.#healthy;
  }

  list(): readonly T[] {
    return this.#informer.list();
  }

  get(name: string, namespace?: string): T | undefined {
    return this.#informer.get(name, namespace);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#healthy = false;
    clearTimeout(this.#restartTimer);
    this.#onSynced?.();
    await this.#informer.stop();
  }

  async #startOnce(): Promise<void> {
    try {
      await this.#informer.start();
      // start() also returns when its list failed (it reports that through 'error').
      if (!this.#restartTimer && !this.#stopped) {
        this.#synced = true;
        this.#healthy = true;
        this.#onSynced?.();
        this.#handlers.onHealthy?.();
      }
    } catch (err) {
      this.#scheduleRestart(err);
    }
  }

  #scheduleRestart(err: unknown): void {
    this.#healthy = false;
    if (this.#stopped || this.#restartTimer) return;
    const delay = Math.min(30_000, 1000 * 2 ** this.#failures);
    this.#failures++;
    this.#log.warn('watch failed; restarting', {
      informer: this.name,
      delayMs: delay,
      error: describeError(err),
    });
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = undefined;
      this.restarts++;
      void this.#startOnce();
    }, delay);
  }
}
