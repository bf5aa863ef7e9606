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
 */
export interface InformerHandlers<T> {
  onChange: (obj: T, verb: 'add' | 'update' | 'delete') => void;
}

export class ResilientInformer<T extends k8s.KubernetesObject> {
  readonly name: string;
  readonly #informer: k8s.Informer<T> & k8s.ObjectCache<T>;
  readonly #log: Logger;
  #synced = false;
  #stopped = false;
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

  /** Resolves once the first list is in the cache. */
  async start(): Promise<void> {
    this.#stopped = false;
    await this.#startOnce();
  }

  get synced(): boolean {
    return this.#synced;
  }

  list(): readonly T[] {
    return this.#informer.list();
  }

  get(name: string, namespace?: string): T | undefined {
    return this.#informer.get(name, namespace);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#restartTimer);
    await this.#informer.stop();
  }

  async #startOnce(): Promise<void> {
    try {
      await this.#informer.start();
      // start() also returns when its list failed (it reports that through 'error').
      if (!this.#restartTimer) this.#synced = true;
    } catch (err) {
      this.#scheduleRestart(err);
    }
  }

  #scheduleRestart(err: unknown): void {
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
