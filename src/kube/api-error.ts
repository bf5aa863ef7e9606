/**
 * A readable one-line description of an error from client-node: its ApiException carries the
 * HTTP code and, as a JSON string, the API server's Status (reason and message), which its own
 * message buries under escaped JSON and headers.
 */
export function describeError(err: unknown): string {
  const e = err as { code?: unknown; body?: unknown; message?: unknown };
  if (typeof e?.code === 'number' && e.body !== undefined) {
    const status = parseStatus(e.body);
    if (status) return `${e.code} ${status.reason ?? ''}: ${status.message ?? ''}`.replace(/ : /, ': ');
    return `HTTP ${e.code}`;
  }
  return err instanceof Error ? err.message : String(err);
}

function parseStatus(body: unknown): { reason?: string; message?: string } | undefined {
  try {
    const value = typeof body === 'string' ? JSON.parse(body) : body;
    return value && typeof value === 'object' ? (value as { reason?: string; message?: string }) : undefined;
  } catch {
    return undefined;
  }
}

/** The HTTP status of a client-node ApiException, if the error is one. */
export function statusOf(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' ? code : undefined;
}
