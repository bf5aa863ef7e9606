import { Writable } from 'node:stream';
import type winston from 'winston';
import { createLogger } from '../../src/runtime/logger.ts';

/** The operator's own logger, keeping every entry in memory for tests that assert on the audit trail. */
export function captureLogger(level = 'debug'): {
  log: winston.Logger;
  entries: Array<Record<string, unknown>>;
} {
  const entries: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) entries.push(JSON.parse(line));
      done();
    },
  });
  return { log: createLogger(level, stream), entries };
}
