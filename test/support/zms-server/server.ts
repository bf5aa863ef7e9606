import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { makeTestPki, type TestPki } from '../pki.ts';
import { type AdminControls, adminRequestHandler } from './admin-api.ts';
import { ZmsClock } from './clock.ts';
import { RequestCounters } from './counters.ts';
import { FaultInjector } from './faults.ts';
import type { ZmsBackend } from './http.ts';
import { DEFAULT_QUOTAS, type Quotas } from './model.ts';
import { StateFile } from './persistence.ts';
import { BASE_PATH, plainHttpRequestHandler, zmsRequestHandler } from './pipeline.ts';
import { DomainSigner } from './signing.ts';
import { ZmsStore } from './store.ts';

export interface ZmsServerOptions {
  /** CA and server certificate; a throwaway PKI is made when absent. */
  pki?: TestPki;
  /** Loopback address to listen on (default 127.0.0.1). */
  host?: string;
  /** HTTPS port (default 0: any free port). */
  port?: number;
  /** Principals made admins of `sys.auth`, `sys` and `user` (default `user.athenz_admin`). */
  adminPrincipals?: string[];
  /** Keep the state in this folder (loaded at start, saved on changes and on stop). */
  stateDir?: string;
  /** Start with this store (in-memory handover from a stopped server). */
  store?: ZmsStore;
  quotas?: Partial<Quotas>;
  /** Also listen on plain HTTP here (0: any port); every request gets ZMS's "must be over TLS" 400. */
  plainHttpPort?: number;
  /** Serve the admin (test-control) API on plain HTTP here (0: any port). */
  adminPort?: number;
  /** Where unexpected server errors go (default: stderr). */
  log?: (message: string) => void;
}

export interface ZmsServer {
  /** `https://127.0.0.1:<port>/zms/v1`. */
  readonly url: string;
  readonly port: number;
  readonly plainUrl: string | undefined;
  /** `http://127.0.0.1:<adminPort>`. */
  readonly adminUrl: string | undefined;
  readonly pki: TestPki;
  readonly store: ZmsStore;
  readonly clock: ZmsClock;
  readonly faults: FaultInjector;
  readonly counters: RequestCounters;
  /** PEM of the key that signs /domain/{d}/signed and /sys/modified_domains answers. */
  readonly signingPublicKeyPem: string;
  readonly running: boolean;
  /** Back to the bootstrap state; faults, counters and clock offset cleared. */
  reset(): void;
  /** Closes every listener and connection and saves the state. */
  stop(): Promise<void>;
  /** Listens again on the same ports with the same state (after `stop()`). */
  start(): Promise<void>;
  /** Test control: ZMS sets `systemDisabled` on members itself; tests set it here. */
  setSystemDisabled(domain: string, role: string, member: string, systemDisabled: number): void;
}

/** Starts the ZMS test server: HTTPS with mutual TLS at `/zms/v1`, plus optional listeners. */
export async function startZmsServer(options: ZmsServerOptions = {}): Promise<ZmsServer> {
  const pki = options.pki ?? (await makeTestPki());
  const server = new ZmsTestServer(pki, options);
  await server.start();
  return server;
}

class ZmsTestServer implements ZmsServer, AdminControls {
  readonly pki: TestPki;
  readonly faults = new FaultInjector();
  readonly counters = new RequestCounters();
  readonly clock: ZmsClock;
  readonly #backend: ZmsBackend;
  readonly #adminPrincipals: string[];
  readonly #host: string;
  readonly #stateFile: StateFile | undefined;
  readonly #log: (message: string) => void;
  #ports: { api: number; plain?: number; admin?: number };
  #api: HttpsServer | undefined;
  #plain: HttpServer | undefined;
  #admin: HttpServer | undefined;

  constructor(pki: TestPki, options: ZmsServerOptions) {
    this.pki = pki;
    this.#host = options.host ?? '127.0.0.1';
    this.#adminPrincipals = (options.adminPrincipals ?? ['user.athenz_admin']).map((p) => p.toLowerCase());
    this.#log = options.log ?? ((message) => process.stderr.write(`${message}\n`));
    this.#stateFile = options.stateDir ? new StateFile(options.stateDir) : undefined;
    this.clock = options.store?.clock ?? new ZmsClock();
    const store =
      options.store ??
      this.#stateFile?.load(this.clock) ??
      ZmsStore.bootstrap(this.#adminPrincipals, this.clock);
    this.#stateFile?.follow(store);
    this.#backend = { store, quotas: { ...DEFAULT_QUOTAS, ...options.quotas }, signer: new DomainSigner() };
    this.#ports = { api: options.port ?? 0, plain: options.plainHttpPort, admin: options.adminPort };
  }

  get store(): ZmsStore {
    return this.#backend.store;
  }

  get port(): number {
    return this.#ports.api;
  }

  get url(): string {
    return `https://${this.#hostForUrl()}:${this.#ports.api}${BASE_PATH}`;
  }

  get plainUrl(): string | undefined {
    return this.#ports.plain === undefined
      ? undefined
      : `http://${this.#hostForUrl()}:${this.#ports.plain}${BASE_PATH}`;
  }

  get adminUrl(): string | undefined {
    return this.#ports.admin === undefined ? undefined : `http://${this.#hostForUrl()}:${this.#ports.admin}`;
  }

  get signingPublicKeyPem(): string {
    return this.#backend.signer.publicKeyPem;
  }

  get running(): boolean {
    return this.#api !== undefined;
  }

  info(): Record<string, unknown> {
    return {
      url: this.url,
      port: this.port,
      plainUrl: this.plainUrl,
      adminUrl: this.adminUrl,
      running: this.running,
      caPath: this.pki.caPath,
    };
  }

  reset(): void {
    this.faults.clear();
    this.counters.reset();
    this.clock.reset();
    this.#backend.store = ZmsStore.bootstrap(this.#adminPrincipals, this.clock);
    this.#stateFile?.follow(this.#backend.store);
  }

  setSystemDisabled(domainName: string, roleName: string, member: string, systemDisabled: number): void {
    const domain = this.store.getDomain(domainName.toLowerCase());
    const role = domain?.roles.get(roleName.toLowerCase());
    if (
      !domain ||
      !role ||
      !this.store.setSystemDisabled(domain, role, member.toLowerCase(), systemDisabled)
    ) {
      throw new Error(`no member ${member} in ${domainName}:role.${roleName}`);
    }
  }

  async start(): Promise<void> {
    if (this.#ports.admin !== undefined && !this.#admin) {
      this.#admin = createHttpServer(adminRequestHandler(this));
      this.#ports.admin = await this.#listen(this.#admin, this.#ports.admin);
    }
    await this.up();
  }

  async up(): Promise<void> {
    if (this.#api) return;
    const deps = { backend: this.#backend, faults: this.faults, counters: this.counters, log: this.#log };
    const api = createHttpsServer(
      {
        key: this.pki.serverKeyPem,
        cert: this.pki.serverCertPem,
        ca: this.pki.caPem,
        // The server judges the client certificate itself, to answer 401 like ZMS.
        requestCert: true,
        rejectUnauthorized: false,
        minVersion: 'TLSv1.2',
        // Longer than any client's idle timeout, so the client closes idle connections first.
        keepAliveTimeout: 65_000,
      },
      zmsRequestHandler(deps),
    );
    this.#ports.api = await this.#listen(api, this.#ports.api);
    this.#api = api;
    if (this.#ports.plain !== undefined) {
      this.#plain = createHttpServer(plainHttpRequestHandler(deps));
      this.#ports.plain = await this.#listen(this.#plain, this.#ports.plain);
    }
  }

  async down(): Promise<void> {
    const servers = [this.#api, this.#plain];
    this.#api = undefined;
    this.#plain = undefined;
    await Promise.all(servers.map((server) => server && close(server)));
  }

  async stop(): Promise<void> {
    await this.down();
    const admin = this.#admin;
    this.#admin = undefined;
    if (admin) await close(admin);
    this.#stateFile?.flush();
  }

  async #listen(server: HttpServer | HttpsServer, port: number): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, this.#host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return (server.address() as AddressInfo).port;
  }

  #hostForUrl(): string {
    return this.#host.includes(':') ? `[${this.#host}]` : this.#host;
  }
}

/** Stops accepting connections and ends the open ones, idle keep-alive connections included. */
function close(server: HttpServer | HttpsServer): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
