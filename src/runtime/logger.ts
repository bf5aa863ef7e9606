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
