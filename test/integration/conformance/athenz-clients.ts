import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll } from '@jest/globals';
import { locateAthenzTools } from '../../support/athenz-tools.ts';
import type { ClientCertificate } from '../../support/pki.ts';
import { ATHENZ_ADMIN } from '../../support/zms-admin.ts';
import { startZmsServer, type ZmsServer } from '../../support/zms-server/server.ts';

/**
 * The official Athenz clients pointed at one ZMS test server per test file: `zms-cli` and
 * `zms-go-client` (our program on the official Go client, test/conformance/zms-go-client).
 * Both run as child processes and are awaited asynchronously: the server runs in this process
 * and must keep answering while a client waits for it.
 */

// biome-ignore lint/suspicious/noExplicitAny: tests inspect client output field by field.
export type AnyJson = any;

export interface Run {
  exit: number;
  stdout: string;
  stderr: string;
}

function run(bin: string, args: string[], stdin?: string): Promise<Run> {
  return new Promise((done, failed) => {
    const child = execFile(bin, args, { maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const exit = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      if (exit === -1) failed(error);
      else done({ exit, stdout, stderr });
    });
    // A client that exits before reading its stdin (a usage error, a failed connection) makes
    // the write fail with EPIPE; its exit status and output say what happened, so that error
    // is not the outcome.
    child.stdin?.on('error', () => {});
    child.stdin?.end(stdin);
  });
}

const describeRun = (what: string, args: string[], r: Run) =>
  `${what} ${args.join(' ')} → exit ${r.exit}\n${r.stdout}${r.stderr}`;

/** `zms-cli -i <principal> -z <url> -cert .. -key .. -c <ca>`, as an Athenz user runs it. */
export class ZmsCli {
  readonly #bin: string;
  readonly #base: string[];

  constructor(tools: string, server: ZmsServer, cert: ClientCertificate) {
    this.#bin = join(tools, 'zms-cli');
    this.#base = [
      ...['-i', cert.principal, '-z', server.url],
      ...['-cert', cert.certPath, '-key', cert.keyPath, '-c', server.pki.caPath],
    ];
  }

  run(...args: string[]): Promise<Run> {
    return run(this.#bin, [...this.#base, ...args]);
  }

  /** The command's (YAML or plain) output; it must succeed. */
  async ok(...args: string[]): Promise<string> {
    const r = await this.run(...args);
    if (r.exit !== 0) throw new Error(describeRun('zms-cli', args, r));
    return r.stdout;
  }

  /** The command's `-o json` output, parsed; it must succeed. */
  async json(...args: string[]): Promise<AnyJson> {
    return JSON.parse(await this.ok('-o', 'json', ...args));
  }

  /** The `{code, message}` zms-cli prints with `-o json` when ZMS answered an error. */
  async error(...args: string[]): Promise<{ code: number; message: string }> {
    const r = await this.run('-o', 'json', ...args);
    if (r.exit === 0) throw new Error(`expected a failure: ${describeRun('zms-cli', args, r)}`);
    return JSON.parse(r.stdout);
  }
}

export interface GoAnswer {
  /** The decoded (and schema-validated) answer; null for 204 and 304. */
  result?: AnyJson;
  etag?: string;
  error?: { code: number; message: string };
}

/** Our program on the official Go client: one client call per run, its outcome as JSON. */
export class GoClient {
  readonly #bin: string;
  readonly #base: string[];

  constructor(tools: string, server: ZmsServer, cert: ClientCertificate) {
    this.#bin = join(tools, 'zms-go-client');
    this.#base = ['-z', server.url, '-cert', cert.certPath, '-key', cert.keyPath, '-c', server.pki.caPath];
  }

  /** Success (exit 0) or a ZMS error (exit 1); anything else (a decode failure) throws. */
  async call(command: string, args: string[] = [], body?: unknown): Promise<GoAnswer> {
    const all = [command, ...args];
    const r = await run(
      this.#bin,
      [...this.#base, ...all],
      body === undefined ? undefined : JSON.stringify(body),
    );
    if (r.exit !== 0 && r.exit !== 1) throw new Error(describeRun('zms-go-client', all, r));
    return JSON.parse(r.stdout) as GoAnswer;
  }

  /** The call's result; it must succeed. */
  async ok(command: string, args: string[] = [], body?: unknown): Promise<AnyJson> {
    const answer = await this.call(command, args, body);
    if (answer.error)
      throw new Error(`zms-go-client ${command} ${args.join(' ')}: ${JSON.stringify(answer.error)}`);
    return answer.result;
  }
}

export interface AthenzClients {
  server: ZmsServer;
  /** zms-cli as `user.athenz_admin`, admin of `sys.auth`. */
  cli: ZmsCli;
  go: GoClient;
  /** Both clients with a certificate for `principal`. */
  as(principal: string): Promise<{ cli: ZmsCli; go: GoClient }>;
  /** A fresh domain name, so tests sharing the server do not see each other's domains. */
  unique(prefix: string): string;
}

/** Locates (or builds) the tools and starts the server in beforeAll; stops it in afterAll. */
export function useAthenzClients(): AthenzClients {
  let tools = '';
  let counter = 0;
  const fixture: AthenzClients = {
    server: undefined as unknown as ZmsServer,
    cli: undefined as unknown as ZmsCli,
    go: undefined as unknown as GoClient,
    async as(principal: string) {
      const cert = await fixture.server.pki.loadOrIssueClientCert(principal);
      return { cli: new ZmsCli(tools, fixture.server, cert), go: new GoClient(tools, fixture.server, cert) };
    },
    unique: (prefix: string) => `${prefix}${++counter}`,
  };
  beforeAll(async () => {
    tools = await locateAthenzTools();
    fixture.server = await startZmsServer({ adminPrincipals: [ATHENZ_ADMIN] });
    const admin = await fixture.as(ATHENZ_ADMIN);
    fixture.cli = admin.cli;
    fixture.go = admin.go;
    // A cold build of the tools takes minutes; this is the backstop, not a wait.
  }, 30 * 60_000);
  afterAll(async () => {
    await fixture.server?.stop();
  });
  return fixture;
}
