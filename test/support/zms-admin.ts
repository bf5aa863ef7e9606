import { Agent, request } from 'undici';
import type { ClientCertificate } from './pki.ts';

/** The Athenz identities of the tests, the sandbox and the benchmark. */
export const ATHENZ_ADMIN = 'user.athenz_admin';
export const OPERATOR_PRINCIPAL = 'athenz.k8s.operator';

/**
 * How tests arrange Athenz state: the calls an Athenz admin makes with zms-cli or curl, over
 * mutual TLS as `user.athenz_admin`. Every call checks its status, so a broken arrangement fails
 * the test where it happened rather than later.
 */
export class ZmsAdmin {
  readonly #url: string;
  readonly #agent: Agent;

  constructor(url: string, caPem: string, cert: ClientCertificate) {
    this.#url = url;
    this.#agent = new Agent({ connect: { ca: caPem, cert: cert.certPem, key: cert.keyPem } });
  }

  /** The parsed body of an expected status other than 404; undefined for 404 and empty bodies. */
  async call(method: string, path: string, body?: unknown, expect: number[] = [200, 204]): Promise<unknown> {
    const res = await request(`${this.#url}${path}`, {
      method: method as 'GET',
      dispatcher: this.#agent,
      headers: { 'content-type': 'application/json', 'y-audit-ref': 'test' },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.body.text();
    if (!expect.includes(res.statusCode)) throw new Error(`${method} ${path} → ${res.statusCode} ${text}`);
    return text && res.statusCode !== 404 ? JSON.parse(text) : undefined;
  }

  /** Creates a top-level domain or a subdomain (`a.b.c` under `a.b`) unless it exists. */
  async ensureDomain(name: string, adminUsers: string[]): Promise<void> {
    const found = await this.call('GET', `/domain/${name}`, undefined, [200, 404]);
    if (found) return;
    const dot = name.lastIndexOf('.');
    if (dot === -1) {
      await this.call('POST', '/domain', { name, adminUsers });
    } else {
      const parent = name.slice(0, dot);
      await this.call('POST', `/subdomain/${parent}`, { name: name.slice(dot + 1), parent, adminUsers });
    }
  }

  /** Creates `name` with `adminUsers`, and its missing ancestors with the Athenz admin alone. */
  async ensureDomainTree(name: string, adminUsers: string[]): Promise<void> {
    const labels = name.split('.');
    for (let i = 1; i < labels.length; i++)
      await this.ensureDomain(labels.slice(0, i).join('.'), [ATHENZ_ADMIN]);
    await this.ensureDomain(name, adminUsers);
  }

  /** The domain of the operator's principal, which must exist before it can be a member anywhere. */
  ensureOperatorDomain(): Promise<void> {
    return this.ensureDomainTree(OPERATOR_PRINCIPAL.slice(0, OPERATOR_PRINCIPAL.lastIndexOf('.')), [
      ATHENZ_ADMIN,
    ]);
  }

  /** A parent domain the operator administers, so that it may create namespace subdomains under it. */
  ensureParentDomain(parent: string): Promise<void> {
    return this.ensureDomainTree(parent, [ATHENZ_ADMIN, OPERATOR_PRINCIPAL]);
  }

  putRole(
    domain: string,
    role: string,
    members: Array<string | { memberName: string; expiration?: string }>,
    extra = {},
  ) {
    const roleMembers = members.map((m) => (typeof m === 'string' ? { memberName: m } : m));
    return this.call('PUT', `/domain/${domain}/role/${role}`, { name: role, roleMembers, ...extra });
  }

  addMember(domain: string, role: string, member: string, expiration?: Date) {
    return this.call('PUT', `/domain/${domain}/role/${role}/member/${member}`, {
      memberName: member,
      ...(expiration ? { expiration: expiration.toISOString() } : {}),
    });
  }

  removeMember(domain: string, role: string, member: string) {
    return this.call('DELETE', `/domain/${domain}/role/${role}/member/${member}`);
  }

  putGroup(domain: string, group: string, members: string[]) {
    return this.call('PUT', `/domain/${domain}/group/${group}`, {
      name: group,
      groupMembers: members.map((memberName) => ({ memberName })),
    });
  }

  getRole(domain: string, role: string) {
    return this.call('GET', `/domain/${domain}/role/${role}`, undefined, [200]) as Promise<{
      roleMembers?: Array<{ memberName: string }>;
    }>;
  }

  getDomain(domain: string) {
    return this.call('GET', `/domain/${domain}`, undefined, [200, 404]) as Promise<
      { name: string; tags?: Record<string, { list: string[] }> } | undefined
    >;
  }

  close(): Promise<void> {
    return this.#agent.close();
  }
}
