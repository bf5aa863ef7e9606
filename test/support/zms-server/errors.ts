import { STATUS_CODES } from 'node:http';

/**
 * An error answer. ZMS writes `{"code": <status>, "message": "..."}`; a few paths write a bare
 * string or nothing at all (`rawBody`), which clients must accept too.
 */
export class ZmsError extends Error {
  readonly status: number;
  readonly rawBody: string | undefined;

  constructor(status: number, message: string, rawBody?: string) {
    super(message);
    this.name = 'ZmsError';
    this.status = status;
    this.rawBody = rawBody;
  }
}

export const badRequest = (message: string): ZmsError => new ZmsError(400, message);
export const notFound = (message: string): ZmsError => new ZmsError(404, message);
export const forbidden = (message = 'Forbidden'): ZmsError => new ZmsError(403, message);
export const quotaExceeded = (api: string, what: string, limit: number, actual: number): ZmsError =>
  new ZmsError(429, `${api}: ${what} quota exceeded - limit: ${limit} actual: ${actual}`);

/**
 * The authorize step of a write found no resource domain: ZMS loses its JSON error body on
 * that path and answers 404 with a bare string (this server's pick of "a bare string or an
 * empty body").
 */
export const authorizeDomainNotFound = (domain: string): ZmsError =>
  new ZmsError(404, `Domain not found: ${domain}`, `Domain not found: ${domain}`);

/** 400 with an empty body (GET /sys/modified_domains without metaonly). */
export const emptyBadRequest = (): ZmsError => new ZmsError(400, '', '');

export const invalidCredentials = (): ZmsError => new ZmsError(401, 'Invalid credentials');

export function errorJson(status: number, message?: string): { code: number; message: string } {
  return { code: status, message: message ?? STATUS_CODES[status] ?? 'Error' };
}
