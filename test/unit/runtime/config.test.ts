import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from '@jest/globals';
import { ConfigError, loadConfig } from '../../../src/runtime/config.ts';
import { makeTestPki } from '../../support/pki.ts';
import { makeWorkdir } from '../../support/workdir.ts';

let files: { cert: string; key: string; ca: string; noPrincipal: string };

beforeAll(async () => {
  const pki = await makeTestPki();
  const cert = await pki.issueClientCert('athenz.k8s.operator');
  const dir = makeWorkdir('config');
  const noPrincipal = join(dir, 'plain.pem');
  writeFileSync(noPrincipal, (await pki.issueClientCert('nodot')).certPem);
  files = { cert: cert.certPath, key: cert.keyPath, ca: pki.caPath, noPrincipal };
});

const base = () => [
  '--zms-url',
  'https://zms.example.com:4443/zms/v1',
  '--zms-cert',
  files.cert,
  '--zms-key',
  files.key,
  '--zms-ca',
  files.ca,
];

describe('loadConfig', () => {
  it('applies the defaults and takes the principal from the certificate', () => {
    const config = loadConfig(base(), {});
    expect(config.operatorPrincipal).toBe('athenz.k8s.operator');
    expect(config['allowed-cluster-roles']).toEqual(['admin', 'edit', 'view']);
    expect(config.workers).toBe(2);
    expect(config['resync-period']).toBe(600_000);
    expect(config['metrics-addr']).toEqual({ host: '0.0.0.0', port: 8080 });
    expect(config['leader-elect']).toBe(false);
    expect(config.namespace).toBe('athenz-rbac-system');
  });

  it('reads environment variables when a flag is absent, and flags win over them', () => {
    const env = { ALLOWED_CLUSTER_ROLES: 'view, edit', WORKERS: '4' };
    expect(loadConfig(base(), env)['allowed-cluster-roles']).toEqual(['view', 'edit']);
    expect(loadConfig([...base(), '--workers', '1'], env).workers).toBe(1);
  });

  const refused: Array<[string, string[], RegExp]> = [
    [
      'a plain-http ZMS URL',
      ['--zms-url', 'http://zms:4443/zms/v1'],
      /--zms-url must be an https:\/\/ URL.*"http:\/\/zms:4443\/zms\/v1"/,
    ],
    [
      'a worker count that is not a number',
      ['--workers', 'two'],
      /--workers: "two" is not a positive whole number/,
    ],
    ['a duration without a unit', ['--resync-period', '10'], /--resync-period: "10" is not a duration/],
    [
      'an empty allowed list',
      ['--allowed-cluster-roles', ' , '],
      /--allowed-cluster-roles must name at least one ClusterRole/,
    ],
    [
      'a bad listen address',
      ['--metrics-addr', 'localhost'],
      /--metrics-addr: "localhost" is not \[host\]:port/,
    ],
    ['an unknown log level', ['--log-level', 'verbose'], /--log-level must be error, warn, info or debug/],
    ['an unknown flag', ['--bogus', 'x'], /Unknown option '--bogus'/],
    [
      'a missing certificate file',
      ['--zms-cert', '/nonexistent/tls.crt'],
      /--zms-cert: cannot read "\/nonexistent\/tls.crt": ENOENT/,
    ],
  ];
  it.each(refused)('refuses %s with one line naming the flag and the value', (_title, args, message) => {
    expect(() => loadConfig([...base(), ...args], {})).toThrow(ConfigError);
    expect(() => loadConfig([...base(), ...args], {})).toThrow(message);
  });

  it('says which required flag is missing', () => {
    expect(() => loadConfig(['--zms-url', 'https://zms/zms/v1'], {})).toThrow(
      /--zms-cert \(or ZMS_CERT_FILE\) is required/,
    );
  });

  it('refuses a certificate whose CN is not an Athenz principal', () => {
    expect(() => loadConfig([...base(), '--zms-cert', files.noPrincipal], {})).toThrow(
      /CN "nodot" is not an Athenz principal/,
    );
  });
});

describe('the operator namespace', () => {
  it('is never default when unset outside a Pod, so the default namespace keeps syncing', () => {
    expect(loadConfig(base(), {}).namespace).toBe('athenz-rbac-system');
    expect(loadConfig(base(), { POD_NAMESPACE: 'ops' }).namespace).toBe('ops');
  });

  it.each([
    [
      'a lease no longer than the renew deadline',
      ['10s', '10s', '2s'],
      /lease duration \(10000 ms\) must be greater than the renew deadline/,
    ],
    [
      'a renew deadline within a jittered retry',
      ['15s', '2s', '2s'],
      /renew deadline \(2000 ms\) must be greater than 1.2 × the retry period/,
    ],
  ])('refuses lease timings client-go refuses: %s', (_name, [lease, renew, retry], message) => {
    const timings = ['--lease-duration', lease!, '--renew-deadline', renew!, '--retry-period', retry!];
    const args = [...base(), '--leader-elect', 'true', ...timings];
    expect(() => loadConfig(args, {})).toThrow(ConfigError);
    expect(() => loadConfig(args, {})).toThrow(message);
    // Without leader election the timings are unused, and so not checked.
    expect(() => loadConfig([...base(), ...timings], {})).not.toThrow();
  });
});
