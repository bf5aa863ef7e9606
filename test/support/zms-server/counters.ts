/**
 * Request counters (a test control): how many requests each route got, and with which
 * status. Routes are keyed by method and template (`GET /domain/{domain}/role/{role}`);
 * requests that match no route count as `<METHOD> (unmatched)`. A connection reset by a
 * fault counts with status `reset`.
 */
export interface CounterSnapshot {
  total: number;
  byRoute: Record<string, number>;
  byStatus: Record<string, number>;
  byRouteAndStatus: Record<string, Record<string, number>>;
}

export class RequestCounters {
  #total = 0;
  #byRoute = new Map<string, number>();
  #byStatus = new Map<string, number>();
  #byRouteAndStatus = new Map<string, Map<string, number>>();

  record(route: string, status: number | 'reset'): void {
    const statusKey = String(status);
    this.#total++;
    this.#byRoute.set(route, (this.#byRoute.get(route) ?? 0) + 1);
    this.#byStatus.set(statusKey, (this.#byStatus.get(statusKey) ?? 0) + 1);
    let statuses = this.#byRouteAndStatus.get(route);
    if (!statuses) {
      statuses = new Map();
      this.#byRouteAndStatus.set(route, statuses);
    }
    statuses.set(statusKey, (statuses.get(statusKey) ?? 0) + 1);
  }

  /** Requests to `route` so far, optionally only those answered with `status`. */
  count(route: string, status?: number | 'reset'): number {
    if (status === undefined) return this.#byRoute.get(route) ?? 0;
    return this.#byRouteAndStatus.get(route)?.get(String(status)) ?? 0;
  }

  get total(): number {
    return this.#total;
  }

  snapshot(): CounterSnapshot {
    return {
      total: this.#total,
      byRoute: Object.fromEntries(this.#byRoute),
      byStatus: Object.fromEntries(this.#byStatus),
      byRouteAndStatus: Object.fromEntries(
        [...this.#byRouteAndStatus].map(([route, statuses]) => [route, Object.fromEntries(statuses)]),
      ),
    };
  }

  reset(): void {
    this.#total = 0;
    this.#byRoute.clear();
    this.#byStatus.clear();
    this.#byRouteAndStatus.clear();
  }
}
