import { afterAll, beforeAll } from '@jest/globals';
import { Agent, request } from 'undici';
import type { ClientCertificate } from '../../support/pki.ts';
import { startZmsServer, type ZmsServer, type ZmsServerOptions } from '../../support/zms-server/server.ts';

/**
 * A minimal ZMS client for the conformance tests: it sees the server only as a client sees a
 * real ZMS (status, headers, raw body), over mutual TLS with its own certificate.
 */

// biome-ignore lint/suspicious/noExplicitAny: tests inspect answer bodies field by field.
export type AnyJson = any;

export interface ZmsAnswer {
  status: number;
  headers: Record<string, string | undefined>;
  text: string;
  /** The parsed body, or undefined when it is not JSON. */
  json: AnyJson;
}

export interface RequestOptions {
  /** An object is sent as JSON; a string is sent as it is. */
  body?: unknown;
  headers?: Record<string, string>;
}

export class ZmsTestClient {
  readonly principal: string | undefined;
  readonly #url: string;
  readonly #agent: Agent;

  constructor(url: string, ca: string, cert?: ClientCertificate) {
    this.#url = url;
    this.principal = cert?.principal;
    this.#agent = new Agent({ connect: { ca, cert: cert?.certPem, key: cert?.keyPem } });
  }

  async request(
    method: string,
    path: string,
    { body, headers = {} }: RequestOptions = {},
  ): Promise<ZmsAnswer> {
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const answer = await request(`${this.#url}${path}`, {
      method: method as 'GET',
      dispatcher: this.#agent,
      body: payload,
      headers: payload === undefined ? headers : { 'content-type': 'application/json', ...headers },
    });
    const text = await answer.body.text();
    const flatHeaders: Record<string, string | undefined> = {};
    for (const [name, value] of Object.entries(answer.headers)) {
      flatHeaders[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: answer.statusCode, headers: flatHeaders, text, json };
  }

  get(path: string, headers?: Record<string, string>): Promise<ZmsAnswer> {
    return this.request('GET', path, { headers });
  }

  post(path: string, body?: unknown, headers?: Record<string, string>): Promise<ZmsAnswer> {
    return this.request('POST', path, { body, headers });
  }

  put(path: string, body?: unknown, headers?: Record<string, string>): Promise<ZmsAnswer> {
    return this.request('PUT', path, { body, headers });
  }

  delete(path: string, headers?: Record<string, string>): Promise<ZmsAnswer> {
    return this.request('DELETE', path, { headers });
  }

  close(): Promise<void> {
    return this.#agent.close();
  }
}

export interface ZmsFixture {
  server: ZmsServer;
  /** `user.athenz_admin`, admin of `sys.auth`. */
  admin: ZmsTestClient;
  /** A client with a certificate for `principal` (one per principal, closed after the file). */
  as(principal: string): Promise<ZmsTestClient>;
  /** A client that sends no client certificate. */
  anonymous(): ZmsTestClient;
  /** A fresh name, so tests sharing a server do not see each other's domains. */
  unique(prefix: string): string;
}

/** Starts one server for the test file (beforeAll) and stops it with its clients (afterAll). */
export function useZmsServer(options: ZmsServerOptions = {}): ZmsFixture {
  const clients: ZmsTestClient[] = [];
  const byPrincipal = new Map<string, Promise<ZmsTestClient>>();
  let counter = 0;
  const fixture = {
    server: undefined as unknown as ZmsServer,
    admin: undefined as unknown as ZmsTestClient,
    as(principal: string) {
      let client = byPrincipal.get(principal);
      if (!client) {
        client = fixture.server.pki.issueClientCert(principal).then((cert) => {
          const created = new ZmsTestClient(fixture.server.url, fixture.server.pki.caPem, cert);
          clients.push(created);
          return created;
        });
        byPrincipal.set(principal, client);
      }
      return client;
    },
    anonymous() {
      const client = new ZmsTestClient(fixture.server.url, fixture.server.pki.caPem);
      clients.push(client);
      return client;
    },
    unique: (prefix: string) => `${prefix}${++counter}`,
  };
  beforeAll(async () => {
    fixture.server = await startZmsServer(options);
    fixture.admin = await fixture.as('user.athenz_admin');
  });
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await fixture.server?.stop();
  });
  return fixture;
}

/** Creates a top-level domain as `client` (a sys.auth admin) and checks it worked. */
export async function createDomain(
  client: ZmsTestClient,
  name: string,
  fields: Record<string, unknown> = {},
): Promise<AnyJson> {
  const answer = await client.post('/domain', { name, adminUsers: ['user.athenz_admin'], ...fields });
  if (answer.status !== 200) throw new Error(`creating domain ${name}: ${answer.status} ${answer.text}`);
  return answer.json;
}

/** Creates or replaces a role and checks it worked. */
export async function putRole(
  client: ZmsTestClient,
  domain: string,
  role: string,
  members: (string | { memberName: string; expiration?: string })[],
  fields: Record<string, unknown> = {},
): Promise<void> {
  const roleMembers = members.map((m) => (typeof m === 'string' ? { memberName: m } : m));
  const answer = await client.put(`/domain/${domain}/role/${role}`, { name: role, roleMembers, ...fields });
  if (answer.status !== 204)
    throw new Error(`putting role ${domain}:${role}: ${answer.status} ${answer.text}`);
}

export const isoIn = (ms: number): string => new Date(Date.now() + ms).toISOString();
export const ISO_WITH_MILLIS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
