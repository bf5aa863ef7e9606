/**
 * Waits for a condition with a deadline instead of sleeping a fixed time: `check` is called
 * until it returns a value other than `undefined`/`false`, or throws once the deadline passes
 * (with the last value or error in the message, so a failing test says what it was waiting for).
 */
/** Thrown from a `waitFor` check, stops the wait at once: the condition can no longer come true. */
export class WaitAborted extends Error {}

export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  {
    timeoutMs = 10_000,
    intervalMs = 50,
    observed,
  }: {
    timeoutMs?: number;
    intervalMs?: number /** What was seen instead, for the timeout message. */;
    observed?: () => unknown;
  } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value as T;
      last = value;
    } catch (err) {
      if (err instanceof WaitAborted) throw err;
      last = err;
    }
    if (Date.now() >= deadline) {
      const detail = last instanceof Error ? last.message : JSON.stringify(observed ? observed() : last);
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${detail})`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
