import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { ZmsClock } from './clock.ts';
import type { RequestCounters } from './counters.ts';
import { type FaultInjector, FaultRuleSchema } from './faults.ts';
import { storeToJson } from './persistence.ts';
import type { ZmsStore } from './store.ts';

/** What the admin listener can drive; the server handle provides it. */
export interface AdminControls {
  readonly store: ZmsStore;
  readonly clock: ZmsClock;
  readonly faults: FaultInjector;
  readonly counters: RequestCounters;
  info(): Record<string, unknown>;
  reset(): void;
  /** Closes the ZMS listeners (the admin listener stays up): "ZMS is down". */
  down(): Promise<void>;
  /** Opens them again on the same ports with the same state. */
  up(): Promise<void>;
  setSystemDisabled(domain: string, role: string, member: string, systemDisabled: number): void;
}

class AdminError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

type AdminAnswer = { status: number; json?: unknown };
type AdminHandler = (
  controls: AdminControls,
  body: unknown,
  param?: string,
) => AdminAnswer | Promise<AdminAnswer>;

const done = (): AdminAnswer => ({ status: 204 });
const json = (value: unknown, status = 200): AdminAnswer => ({ status, json: value });

/**
 * The test-control API on its own plain-HTTP listener (127.0.0.1), so that another process
 * (the operator in a sandbox, a benchmark) can inject faults, read counters, move the clock,
 * reset the server or take it down. Not part of ZMS.
 */
const ADMIN_ROUTES: Record<string, AdminHandler> = {
  'GET /admin/info': (c) => json(c.info()),
  'GET /admin/faults': (c) => json({ faults: c.faults.list() }),
  'POST /admin/faults': (c, body) => json({ id: c.faults.add(FaultRuleSchema.parse(body)) }, 201),
  'DELETE /admin/faults': (c) => {
    c.faults.clear();
    return done();
  },
  'DELETE /admin/faults/{id}': (c, _body, id) => {
    if (!c.faults.remove(id!)) throw new AdminError(404, `no fault ${id}`);
    return done();
  },
  'GET /admin/counters': (c) => json(c.counters.snapshot()),
  'DELETE /admin/counters': (c) => {
    c.counters.reset();
    return done();
  },
  'POST /admin/reset': (c) => {
    c.reset();
    return done();
  },
  'GET /admin/clock': (c) => json(clockJson(c.clock)),
  'POST /admin/clock': (c, body) => {
    const { advanceMs, offsetMs, frozen } = (body ?? {}) as Record<string, unknown>;
    if (typeof offsetMs !== 'number' && typeof advanceMs !== 'number' && typeof frozen !== 'boolean') {
      throw new AdminError(400, 'expected {"advanceMs": n}, {"offsetMs": n} and/or {"frozen": true|false}');
    }
    if (frozen === true) c.clock.freeze();
    if (frozen === false) c.clock.unfreeze();
    if (typeof offsetMs === 'number') c.clock.setOffset(offsetMs);
    if (typeof advanceMs === 'number') c.clock.advance(advanceMs);
    return json(clockJson(c.clock));
  },
  'POST /admin/down': async (c) => {
    await c.down();
    return done();
  },
  'POST /admin/up': async (c) => {
    await c.up();
    return done();
  },
  'POST /admin/system-disabled': (c, body) => {
    const { domain, role, member, systemDisabled } = (body ?? {}) as Record<string, unknown>;
    if (typeof domain !== 'string' || typeof role !== 'string' || typeof member !== 'string') {
      throw new AdminError(400, 'expected {"domain", "role", "member", "systemDisabled"}');
    }
    c.setSystemDisabled(domain, role, member, typeof systemDisabled === 'number' ? systemDisabled : 1);
    return done();
  },
  'GET /admin/state': (c) => json(storeToJson(c.store)),
};

const clockJson = (clock: ZmsClock) => ({
  now: new Date(clock.now()).toISOString(),
  offsetMs: clock.offsetMs,
  frozen: clock.frozen,
});

export function adminRequestHandler(controls: AdminControls): RequestListener {
  return (req, res) => {
    answer(controls, req).then(
      (result) => send(res, result),
      (error: Error) =>
        send(res, json({ error: error.message }, error instanceof AdminError ? error.status : 400)),
    );
  };
}

async function answer(controls: AdminControls, req: IncomingMessage): Promise<AdminAnswer> {
  const path = (req.url ?? '/').split('?', 1)[0]!;
  const method = req.method ?? 'GET';
  const idMatch = /^\/admin\/faults\/([^/]+)$/.exec(path);
  const key = idMatch ? `${method} /admin/faults/{id}` : `${method} ${path}`;
  const handler = ADMIN_ROUTES[key];
  if (!handler)
    throw new AdminError(404, `no admin route ${key}; routes: ${Object.keys(ADMIN_ROUTES).join(', ')}`);
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
  const text = Buffer.concat(chunks).toString('utf8');
  const body = text.trim() === '' ? undefined : JSON.parse(text);
  return handler(controls, body, idMatch?.[1]);
}

function send(res: ServerResponse, { status, json: value }: AdminAnswer): void {
  if (value === undefined) {
    res.writeHead(status).end();
    return;
  }
  const body = JSON.stringify(value);
  res
    .writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) })
    .end(body);
}
