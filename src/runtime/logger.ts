import winston from 'winston';
import { logContext } from './log-context.ts';

/** JSON lines, one object per line, with an ISO timestamp and the fields of the current log
 * context (the mapping and reconcile id during a reconcile). Written to stdout by default. */
export function createLogger(level = 'info', stream: NodeJS.WritableStream = process.stdout): winston.Logger {
  return winston.createLogger({
    level,
    format: winston.format.combine(
      logContext(),
      winston.format.timestamp(),
      winston.format.errors({ stack: true }),
      winston.format.json(),
    ),
    transports: [new winston.transports.Stream({ stream })],
  });
}

/** Waits until every line logged so far is written (winston writes asynchronously), within
 * `timeoutMs`. Call before `process.exit`, which would drop lines still in flight. */
export function flushLogger(log: winston.Logger, timeoutMs = 2_000): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    log.on('finish', () => {
      clearTimeout(timer);
      resolve();
    });
    log.end();
  });
}
