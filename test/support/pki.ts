// @peculiar/x509 resolves its services through tsyringe, which needs the Reflect metadata
// polyfill loaded first.
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { makeWorkdir } from './workdir.ts';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
type X509Crypto = Parameters<typeof x509.cryptoProvider.set>[0];
x509.cryptoProvider.set(webcrypto as unknown as X509Crypto);

/** ECDSA P-256 keys: generated in milliseconds, accepted by Node's TLS and curl. */
const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
const DAY_MS = 24 * 60 * 60 * 1000;

export interface ClientCertificate {
  principal: string;
  certPem: string;
  keyPem: string;
  certPath: string;
  keyPath: string;
}

export interface ClientCertificateOptions {
  /** Defaults to one hour ago, so small clock differences do not matter. */
  notBefore?: Date;
  /** Defaults to a year from now; a past date makes an expired certificate. */
  notAfter?: Date;
}

export interface TestPki {
  dir: string;
  caPath: string;
  caPem: string;
  /** Server certificate for 127.0.0.1, ::1 and localhost. */
  serverCertPath: string;
  serverKeyPath: string;
  serverCertPem: string;
  serverKeyPem: string;
  /** A client certificate whose CN is `principal`, signed by this CA; written to `<dir>/<principal>.*.pem`. */
  issueClientCert(principal: string, options?: ClientCertificateOptions): Promise<ClientCertificate>;
  /** The certificate already in `dir` for `principal`, or a new one. */
  loadOrIssueClientCert(principal: string): Promise<ClientCertificate>;
  /** A client certificate from another CA, which the server must not trust; written under `<dir>/untrusted/`. */
  issueUntrustedClientCert(principal: string): Promise<ClientCertificate>;
}

interface Authority {
  cert: x509.X509Certificate;
  keys: CryptoKeyPair;
}

/**
 * A throwaway certificate authority for tests and the sandbox. With `dir` holding a CA and
 * server certificate from an earlier run they are reused (so clients configured with them
 * keep working); otherwise new ones are written there (a fresh temporary folder by default).
 */
export async function makeTestPki(dir?: string): Promise<TestPki> {
  const folder = dir ?? makeWorkdir('pki');
  mkdirSync(folder, { recursive: true });
  const path = (name: string) => join(folder, name);
  const ca =
    (await loadAuthority(path('ca.cert.pem'), path('ca.key.pem'))) ??
    (await createAuthority(folder, 'Test CA'));

  if (!existsSync(path('server.cert.pem')) || !existsSync(path('server.key.pem'))) {
    const server = await issue(ca, 'CN=127.0.0.1', [
      new x509.SubjectAlternativeNameExtension([
        { type: 'ip', value: '127.0.0.1' },
        { type: 'ip', value: '::1' },
        { type: 'dns', value: 'localhost' },
      ]),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
    ]);
    writeFileSync(path('server.cert.pem'), server.certPem);
    writeFileSync(path('server.key.pem'), server.keyPem, { mode: 0o600 });
  }

  let untrusted: Authority | undefined;
  const issueClient = async (authority: Authority, where: string, principal: string, options = {}) => {
    const { certPem, keyPem } = await issue(authority, `CN=${principal}`, clientExtensions(), options);
    return writeClientCert(where, principal, certPem, keyPem);
  };

  return {
    dir: folder,
    caPath: path('ca.cert.pem'),
    caPem: ca.cert.toString('pem'),
    serverCertPath: path('server.cert.pem'),
    serverKeyPath: path('server.key.pem'),
    serverCertPem: readFileSync(path('server.cert.pem'), 'utf8'),
    serverKeyPem: readFileSync(path('server.key.pem'), 'utf8'),
    issueClientCert: (principal, options) => issueClient(ca, folder, principal, options),
    async loadOrIssueClientCert(principal) {
      const certPath = path(`${principal}.cert.pem`);
      const keyPath = path(`${principal}.key.pem`);
      if (!existsSync(certPath) || !existsSync(keyPath)) return issueClient(ca, folder, principal);
      const certPem = readFileSync(certPath, 'utf8');
      return { principal, certPem, keyPem: readFileSync(keyPath, 'utf8'), certPath, keyPath };
    },
    async issueUntrustedClientCert(principal) {
      const where = path('untrusted');
      untrusted ??= await createAuthority(where, 'Untrusted Test CA');
      return issueClient(untrusted, where, principal);
    },
  };
}

async function createAuthority(folder: string, commonName: string): Promise<Authority> {
  mkdirSync(folder, { recursive: true });
  const keys = await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name: `CN=${commonName}`,
    keys,
    signingAlgorithm: ALGORITHM,
    notBefore: new Date(Date.now() - DAY_MS),
    notAfter: new Date(Date.now() + 10 * 365 * DAY_MS),
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  writeFileSync(join(folder, 'ca.cert.pem'), cert.toString('pem'));
  writeFileSync(join(folder, 'ca.key.pem'), await privateKeyPem(keys.privateKey), { mode: 0o600 });
  return { cert, keys };
}

async function loadAuthority(certPath: string, keyPath: string): Promise<Authority | undefined> {
  if (!existsSync(certPath) || !existsSync(keyPath)) return undefined;
  const cert = new x509.X509Certificate(readFileSync(certPath, 'utf8'));
  const der = x509.PemConverter.decodeFirst(readFileSync(keyPath, 'utf8'));
  const privateKey = await webcrypto.subtle.importKey('pkcs8', der, ALGORITHM, true, ['sign']);
  const publicKey = await cert.publicKey.export(ALGORITHM, ['verify'], webcrypto as unknown as X509Crypto);
  return { cert, keys: { privateKey, publicKey } };
}

async function issue(
  authority: Authority,
  subject: string,
  extensions: x509.Extension[],
  { notBefore, notAfter }: ClientCertificateOptions = {},
): Promise<{ certPem: string; keyPem: string }> {
  const keys = await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.create({
    subject,
    issuer: authority.cert.subject,
    notBefore: notBefore ?? new Date(Date.now() - 60 * 60 * 1000),
    notAfter: notAfter ?? new Date(Date.now() + 365 * DAY_MS),
    signingAlgorithm: ALGORITHM,
    publicKey: keys.publicKey,
    signingKey: authority.keys.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(false),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      await x509.AuthorityKeyIdentifierExtension.create(authority.keys.publicKey),
      ...extensions,
    ],
  });
  return { certPem: cert.toString('pem'), keyPem: await privateKeyPem(keys.privateKey) };
}

const clientExtensions = () => [new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth])];

function writeClientCert(
  folder: string,
  principal: string,
  certPem: string,
  keyPem: string,
): ClientCertificate {
  const certPath = join(folder, `${principal}.cert.pem`);
  const keyPath = join(folder, `${principal}.key.pem`);
  writeFileSync(certPath, certPem);
  writeFileSync(keyPath, keyPem, { mode: 0o600 });
  return { principal, certPem, keyPem, certPath, keyPath };
}

async function privateKeyPem(key: CryptoKey): Promise<string> {
  return x509.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', key), 'PRIVATE KEY');
}
