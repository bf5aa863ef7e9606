import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { makeTestPki } from '../pki.ts';
import { makeWorkdir } from '../workdir.ts';
import { startZmsServer } from './server.ts';

const USAGE = `usage: cli.ts [--port 4443] [--host 127.0.0.1] [--state-dir DIR] [--cert-dir DIR]
              [--admin user.athenz_admin]... [--principal NAME]... [--admin-port N] [--plain-port N] [--json]`;

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '4443' },
    host: { type: 'string', default: '127.0.0.1' },
    'state-dir': { type: 'string' },
    'cert-dir': { type: 'string' },
    admin: { type: 'string', multiple: true },
    principal: { type: 'string', multiple: true },
    'admin-port': { type: 'string', default: '0' },
    'plain-port': { type: 'string' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});

if (values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}

const port = (name: string, raw: string): number => {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0 || value > 65535) {
    process.stderr.write(`--${name} must be a port number, got ${raw}\n${USAGE}\n`);
    process.exit(2);
  }
  return value;
};

const stateDir = values['state-dir'] ? resolve(values['state-dir']) : undefined;
const certDir = resolve(
  values['cert-dir'] ?? (stateDir ? join(stateDir, 'certs') : makeWorkdir('zms-certs')),
);
const admins = (values.admin ?? ['user.athenz_admin']).map((name) => name.toLowerCase());
const principals = [...new Set([...admins, ...(values.principal ?? []).map((name) => name.toLowerCase())])];

const pki = await makeTestPki(certDir);
const certs = await Promise.all(principals.map((principal) => pki.loadOrIssueClientCert(principal)));
const server = await startZmsServer({
  pki,
  host: values.host,
  port: port('port', values.port),
  adminPrincipals: admins,
  stateDir,
  adminPort: port('admin-port', values['admin-port']),
  plainHttpPort: values['plain-port'] === undefined ? undefined : port('plain-port', values['plain-port']),
});

const admin = certs[0]!;
const curl = `curl --cert ${admin.certPath} --key ${admin.keyPath} --cacert ${pki.caPath} ${server.url}/domain/sys.auth`;
if (values.json) {
  const summary = {
    url: server.url,
    port: server.port,
    adminUrl: server.adminUrl,
    plainUrl: server.plainUrl,
    caPath: pki.caPath,
    certDir,
    stateDir: stateDir ?? null,
    principals: Object.fromEntries(
      certs.map((c) => [c.principal, { certPath: c.certPath, keyPath: c.keyPath }]),
    ),
    curl,
  };
  process.stdout.write(`${JSON.stringify(summary)}\n`);
} else {
  const lines = [
    'ZMS test server is running',
    `  url:        ${server.url}`,
    `  admin api:  ${server.adminUrl}  (GET /admin/info; faults, counters, reset, clock, down/up)`,
    ...(server.plainUrl ? [`  plain http: ${server.plainUrl}`] : []),
    `  state:      ${stateDir ?? 'in memory only'}`,
    `  CA:         ${pki.caPath}`,
    ...certs.map((c) => `  ${c.principal}:\n    cert: ${c.certPath}\n    key:  ${c.keyPath}`),
    'Try:',
    `  ${curl}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    server.stop().then(
      () => process.stdout.write(`stopped (${signal})\n`),
      (error: Error) => {
        process.stderr.write(`stopping failed: ${error.message}\n`);
        process.exitCode = 1;
      },
    );
  });
}
