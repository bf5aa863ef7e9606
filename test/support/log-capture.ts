import { Writable } from 'node:stream';
import winston from 'winston';
import { logContext } from '../../src/runtime/log-context.ts';

/** A winston logger that keeps every entry in memory, for tests that assert on the audit trail. */
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
  const log = winston.createLogger({
    level,
    format: winston.format.combine(logContext(), winston.format.json()),
    transports: [new winston.transports.Stream({ stream })],
  });
  return { log, entries };
}
