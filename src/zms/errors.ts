/**
 * Typed ZMS failures. The split that matters to callers is `verified` answers (ZMS said so:
 * not found, forbidden, bad request) versus `retryable` trouble (nothing valid was heard:
 * network, timeout, TLS, 429, 5xx, a body that does not validate). Only a verified answer may
 * change access; retryable trouble keeps everything as it is.
 */
export type ZmsErrorKind =
  | 'NotFound'
  | 'Forbidden'
  | 'Unauthorized'
  | 'BadRequest'
  | 'RateLimited'
  | 'Unavailable'
  | 'InvalidResponse'
  | 'Tls';

export class ZmsError extends Error {
  readonly kind: ZmsErrorKind;
  /** HTTP status, when ZMS answered. */
  readonly status: number | undefined;
  readonly endpoint: string;
  /** Seconds to wait, from a `Retry-After` header. */
  readonly retryAfterMs: number | undefined;

  constructor(
    kind: ZmsErrorKind,
    endpoint: string,
    message: string,
    options: { status?: number; retryAfterMs?: number; cause?: unknown } = {},
  ) {
    super(`${endpoint}: ${message}`, { cause: options.cause });
    this.name = 'ZmsError';
    this.kind = kind;
    this.endpoint = endpoint;
    this.status = options.status;
    this.retryAfterMs = options.retryAfterMs;
  }

  get retryable(): boolean {
    return (
      this.kind === 'RateLimited' ||
      this.kind === 'Unavailable' ||
      this.kind === 'InvalidResponse' ||
      this.kind === 'Tls'
    );
  }
}

export function kindForStatus(status: number): ZmsErrorKind {
  if (status === 404) return 'NotFound';
  if (status === 403) return 'Forbidden';
  if (status === 401) return 'Unauthorized';
  if (status === 429) return 'RateLimited';
  if (status >= 500) return 'Unavailable';
  return 'BadRequest';
}

const TLS_CODES = /^(ERR_TLS|ERR_SSL|CERT_|UNABLE_TO_|DEPTH_ZERO|SELF_SIGNED|ERR_OSSL)/;

/** Classifies a thrown network-level error (undici/Node) into a ZmsError. */
export function fromNetworkError(endpoint: string, err: unknown): ZmsError {
  const code = findCode(err);
  if (code && TLS_CODES.test(code))
    return new ZmsError('Tls', endpoint, `TLS failure: ${code}`, { cause: err });
  const detail = code ?? (err instanceof Error ? err.message : String(err));
  return new ZmsError('Unavailable', endpoint, `request failed: ${detail}`, { cause: err });
}

function findCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && code !== 'UND_ERR_SOCKET' && code !== 'UND_ERR_CONNECT') return code;
    if (typeof code === 'string' && !(e as { cause?: unknown }).cause) return code;
  }
  return undefined;
}

/** `Retry-After` as seconds or an HTTP date, in milliseconds. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (!text) return undefined;
  if (/^\d+$/.test(text.trim())) return Number(text.trim()) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** How a retryable failure shows in status (AthenzReachable): rate limiting, an invalid body and
 * TLS by name, everything else (network, timeout, 5xx) as unavailable. */
export function unreachableKind(err: ZmsError): 'RateLimited' | 'InvalidResponse' | 'Tls' | 'Unavailable' {
  return err.kind === 'RateLimited' || err.kind === 'InvalidResponse' || err.kind === 'Tls'
    ? err.kind
    : 'Unavailable';
}
