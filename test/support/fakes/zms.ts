import type { ModifiedDomains, SubdomainDetail, ZmsClient } from '../../../src/zms/client.ts';
import { ZmsError } from '../../../src/zms/errors.ts';
import type { Domain, Group, Role, RoleMember } from '../../../src/zms/schemas.ts';

/**
 * An in-memory ZmsClient for unit tests of the controller layer: domains with roles and groups,
 * a log of every call, and per-call faults (`failNext`, `fail`). It answers like the real client:
 * `undefined` only for a missing object, a ZmsError for everything else.
 */
export type ZmsCall = keyof Omit<ZmsClient, 'close'>;

interface FakeDomain {
  domain: Domain;
  roles: Map<string, Role>;
  groups: Map<string, Group>;
}

export class FakeZms implements ZmsClient {
  readonly domains = new Map<string, FakeDomain>();
  readonly calls: Array<{ call: ZmsCall; args: unknown[] }> = [];
  readonly #changed = new Set<string>();
  #generation = 0;
  #faults: Array<{ call: ZmsCall | '*'; error: () => Error; times: number }> = [];
  /** Runs before the answer of each call (after the fault check): a hook to change state mid-call. */
  beforeAnswer: ((call: ZmsCall, args: unknown[]) => void | Promise<void>) | undefined;

  addDomain(name: string, tags?: Record<string, string[]>): this {
    const domainTags = tags
      ? Object.fromEntries(Object.entries(tags).map(([k, list]) => [k, { list }]))
      : undefined;
    this.domains.set(name, {
      domain: { name, ...(domainTags ? { tags: domainTags } : {}) } as Domain,
      roles: new Map(),
      groups: new Map(),
    });
    return this;
  }

  setRole(domain: string, role: string, members: Array<string | Partial<RoleMember>>, trust?: string): this {
    const d = this.#domain(domain);
    d.roles.set(role, {
      name: `${domain}:role.${role}`,
      roleMembers: members.map((m) => member(m)),
      ...(trust ? { trust } : {}),
    });
    return this;
  }

  /** `times` failures of `call` (or any call), each a fresh error from `error`. */
  fail(call: ZmsCall | '*', error: () => Error = unavailable, times = Number.POSITIVE_INFINITY): this {
    this.#faults.push({ call, error, times });
    return this;
  }

  heal(): this {
    this.#faults = [];
    return this;
  }

  count(call: ZmsCall): number {
    return this.calls.filter((c) => c.call === call).length;
  }

  async getDomain(domain: string) {
    await this.#enter('getDomain', [domain]);
    return this.domains.get(domain)?.domain;
  }

  async createSubdomain(parent: string, name: string, detail: SubdomainDetail) {
    await this.#enter('createSubdomain', [parent, name, detail]);
    const full = `${parent}.${name}`;
    if (this.domains.has(full))
      throw new ZmsError('BadRequest', 'POST /subdomain/{parent}', '400 Entry already exists: conflict');
    this.addDomain(full, detail.tags);
    this.setRole(full, 'admin', detail.adminUsers);
    return this.domains.get(full)!.domain;
  }

  async deleteSubdomain(parent: string, name: string) {
    await this.#enter('deleteSubdomain', [parent, name]);
    this.domains.delete(`${parent}.${name}`);
  }

  async getRoles(domain: string) {
    await this.#enter('getRoles', [domain]);
    const d = this.domains.get(domain);
    if (!d) throw new ZmsError('NotFound', 'GET /domain/{d}/roles', '404 Domain not found', { status: 404 });
    return [...d.roles.values()];
  }

  async getRole(domain: string, role: string) {
    await this.#enter('getRole', [domain, role]);
    return this.domains.get(domain)?.roles.get(role);
  }

  async putRole(domain: string, role: string, members: string[]) {
    await this.#enter('putRole', [domain, role, members]);
    this.setRole(domain, role, members);
  }

  async getGroup(domain: string, group: string) {
    await this.#enter('getGroup', [domain, group]);
    return this.domains.get(domain)?.groups.get(group);
  }

  async listSubdomains(parent: string) {
    await this.#enter('listSubdomains', [parent]);
    return [...this.domains.keys()].filter(
      (d) => d.startsWith(`${parent}.`) && !d.slice(parent.length + 1).includes('.'),
    );
  }

  /** Reports `domain` as modified at the next change poll. */
  markChanged(domain: string): this {
    this.#changed.add(domain);
    return this;
  }

  async getModifiedDomains(etag?: string): Promise<ModifiedDomains> {
    await this.#enter('getModifiedDomains', [etag]);
    if (etag === undefined) {
      this.#changed.clear();
      return { etag: `"${++this.#generation}"`, domains: [...this.domains.keys()].map((name) => ({ name })) };
    }
    if (this.#changed.size === 0) return { etag };
    const domains = [...this.#changed].map((name) => ({ name, modified: new Date() }));
    this.#changed.clear();
    return { etag: `"${++this.#generation}"`, domains };
  }

  async close() {}

  async #enter(call: ZmsCall, args: unknown[]) {
    this.calls.push({ call, args });
    const fault = this.#faults.find((f) => (f.call === call || f.call === '*') && f.times > 0);
    if (fault) {
      fault.times--;
      throw fault.error();
    }
    await this.beforeAnswer?.(call, args);
  }

  #domain(name: string): FakeDomain {
    const d = this.domains.get(name);
    if (!d) throw new Error(`fake ZMS: no domain ${name}`);
    return d;
  }
}

export function member(m: string | Partial<RoleMember>): RoleMember {
  const base = typeof m === 'string' ? { memberName: m } : m;
  return { active: true, approved: true, systemDisabled: 0, ...base } as RoleMember;
}

export const unavailable = () =>
  new ZmsError('Unavailable', 'GET /domain/{d}/roles', 'request failed: ECONNREFUSED');

export const rateLimited = (retryAfterMs: number) => () =>
  new ZmsError('RateLimited', 'GET /domain/{d}/roles', '429 Too Many Requests', {
    status: 429,
    retryAfterMs,
  });
