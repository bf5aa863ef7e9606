import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import winston from 'winston';

/**
 * Fields that every log line written during one reconcile carries (the mapping and a reconcile
 * id), without passing a logger through every call: the worker runs the reconcile inside
 * `withLogContext`, and `logContext()` — part of every logger's format — adds the fields.
 */
const storage = new AsyncLocalStorage<Record<string, unknown>>();

export function withLogContext<T>(fields: Record<string, unknown>, fn: () => Promise<T>): Promise<T> {
  return storage.run({ ...storage.getStore(), ...fields }, fn);
}

export function newReconcileId(): string {
  return randomUUID().slice(0, 8);
}

export const logContext = winston.format((info) => Object.assign(info, { ...storage.getStore(), ...info }));
