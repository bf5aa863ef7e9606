/**
 * The server's clock. `now()` can be shifted or frozen by tests (to make expirations pass
 * without waiting, or to make changes land in the same millisecond); `nextModified()` hands
 * out strictly increasing `modified` stamps, bumping by 1 ms when two changes land in the
 * same millisecond or the clock went back, so a client polling /sys/modified_domains with
 * the newest stamp it saw never misses a later change.
 */
export class ZmsClock {
  #offsetMs = 0;
  #frozenAt: number | undefined;
  #lastModified = 0;

  now(): number {
    return this.#frozenAt ?? Date.now() + this.#offsetMs;
  }

  nextModified(): number {
    this.#lastModified = Math.max(this.now(), this.#lastModified + 1);
    return this.#lastModified;
  }

  /** The newest stamp handed out (or observed in loaded state). */
  get lastModified(): number {
    return this.#lastModified;
  }

  /** Raises the floor after loading persisted state, so new stamps are later than old ones. */
  observe(modified: number): void {
    this.#lastModified = Math.max(this.#lastModified, modified);
  }

  /** How far `now()` is from the machine's clock. */
  get offsetMs(): number {
    return this.now() - Date.now();
  }

  get frozen(): boolean {
    return this.#frozenAt !== undefined;
  }

  /** Moves the clock to the machine's time plus `offsetMs` (still frozen if it was). */
  setOffset(offsetMs: number): void {
    if (this.#frozenAt !== undefined) this.#frozenAt = Date.now() + offsetMs;
    else this.#offsetMs = offsetMs;
  }

  advance(ms: number): void {
    if (this.#frozenAt !== undefined) this.#frozenAt += ms;
    else this.#offsetMs += ms;
  }

  /** Stops the clock at the current time until `unfreeze()`. */
  freeze(): void {
    this.#frozenAt = this.now();
  }

  /** Lets the clock run again from where it stood. */
  unfreeze(): void {
    if (this.#frozenAt === undefined) return;
    this.#offsetMs = this.#frozenAt - Date.now();
    this.#frozenAt = undefined;
  }

  /** Back to the machine's time, running. `modified` stamps keep increasing regardless. */
  reset(): void {
    this.#frozenAt = undefined;
    this.#offsetMs = 0;
  }
}
