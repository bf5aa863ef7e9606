import { z } from 'zod';

/**
 * Fault injection (a test control, not part of ZMS). A rule says what goes wrong and for
 * which requests: all of them, or those matching a method, a path prefix, a path regex or a
 * route key (`GET /domain/{domain}/role/{role}`), optionally only the next `times` times.
 * Paths are matched both with and without the `/zms/v1` base. Faults act before
 * authentication, like a proxy or a sick server would.
 *
 * - `latency`: answer normally after `ms` (latency rules add up);
 * - `error`: answer `status` with `body` (default: ZMS error JSON) and `Retry-After`;
 * - `reset`: destroy the connection without answering;
 * - `truncate`: announce the full body, send half of it, then close the connection;
 * - `malformed`: a complete answer whose JSON body is cut in half (so it does not parse).
 * Only the first matching non-latency rule applies.
 */
export const FaultRuleSchema = z.object({
  kind: z.enum(['latency', 'error', 'reset', 'truncate', 'malformed']),
  ms: z.number().int().nonnegative().optional(),
  status: z.number().int().min(100).max(599).optional(),
  body: z.unknown().optional(),
  retryAfter: z.union([z.number(), z.string()]).optional(),
  headers: z.record(z.string(), z.string()).optional(),
  match: z
    .object({
      method: z.string().optional(),
      path: z.string().optional(),
      pathRegex: z.string().optional(),
      route: z.string().optional(),
    })
    .optional(),
  times: z.number().int().positive().optional(),
});
export type FaultRule = z.infer<typeof FaultRuleSchema>;

export interface ActiveFault extends FaultRule {
  id: string;
  /** How many requests the rule has acted on so far. */
  hits: number;
}

export interface FaultRequest {
  method: string;
  /** The path after `/zms/v1`, without the query. */
  apiPath: string;
  /** The route key, e.g. `GET /domain/{domain}`. */
  route: string;
}

export interface FaultDecision {
  latencyMs: number;
  outcome?: ActiveFault;
}

const BASE = '/zms/v1';

export class FaultInjector {
  #rules: (ActiveFault & { regex?: RegExp })[] = [];
  #nextId = 1;

  /** Adds a rule and returns its id. Throws on a rule that does not make sense. */
  add(rule: FaultRule): string {
    const parsed = FaultRuleSchema.parse(rule);
    if (parsed.kind === 'latency' && parsed.ms === undefined) throw new Error('a latency fault needs `ms`');
    if (parsed.kind === 'error' && parsed.status === undefined)
      throw new Error('an error fault needs `status`');
    const regex = parsed.match?.pathRegex ? new RegExp(parsed.match.pathRegex) : undefined;
    const id = `fault-${this.#nextId++}`;
    this.#rules.push({ ...parsed, id, hits: 0, regex });
    return id;
  }

  remove(id: string): boolean {
    const before = this.#rules.length;
    this.#rules = this.#rules.filter((rule) => rule.id !== id);
    return this.#rules.length < before;
  }

  clear(): void {
    this.#rules = [];
  }

  list(): ActiveFault[] {
    return this.#rules.map(({ regex: _regex, ...rule }) => ({ ...rule }));
  }

  /** The faults for one request; rules that act use up one of their `times`. */
  decide(request: FaultRequest): FaultDecision {
    const decision: FaultDecision = { latencyMs: 0 };
    if (this.#rules.length === 0) return decision;
    for (const rule of [...this.#rules]) {
      if (!matches(rule, request)) continue;
      if (rule.kind === 'latency') decision.latencyMs += rule.ms ?? 0;
      else if (decision.outcome) continue;
      else decision.outcome = { ...rule };
      this.#use(rule);
    }
    return decision;
  }

  #use(rule: ActiveFault): void {
    rule.hits++;
    if (rule.times !== undefined && rule.hits >= rule.times) this.remove(rule.id);
  }
}

function matches(rule: FaultRule & { regex?: RegExp }, request: FaultRequest): boolean {
  const match = rule.match;
  if (!match) return true;
  const fullPath = `${BASE}${request.apiPath}`;
  if (match.method && match.method.toUpperCase() !== request.method) return false;
  if (match.route && match.route !== request.route) return false;
  if (match.path && !request.apiPath.startsWith(match.path) && !fullPath.startsWith(match.path)) return false;
  if (rule.regex && !rule.regex.test(request.apiPath) && !rule.regex.test(fullPath)) return false;
  return true;
}
