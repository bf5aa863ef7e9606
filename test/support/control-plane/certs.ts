import { generateKeyPairSync, webcrypto } from 'node:crypto';
// @peculiar/x509 resolves its services through tsyringe, which needs the Reflect metadata API.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';

/**
 * The certificates a test control plane needs: a serving certificate for 127.0.0.1 (kube-apiserver
 * and kube-controller-manager serve with it), a client CA whose certificates kube-apiserver
 * accepts, an admin client certificate in `system:masters`, kube-controller-manager's client
 * certificate (`system:kube-controller-manager`, the user the bootstrap RBAC policy grants its
 * permissions to), and an RSA key pair that signs ServiceAccount tokens (kube-apiserver verifies
 * RS256 tokens; kube-controller-manager signs the legacy token Secrets with it).
 */
x509.cryptoProvider.set(webcrypto as never);
type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 24 * 60 * 60 * 1000;

export interface Pem {
  certPem: string;
  keyPem: string;
}
interface Issuer {
  cert: x509.X509Certificate;
  keys: CryptoKeyPair;
  pem: Pem;
}

async function keyPem(key: CryptoKey): Promise<string> {
  return x509.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', key), 'PRIVATE KEY');
}

function serial(): string {
  return Buffer.from(webcrypto.getRandomValues(new Uint8Array(12)))
    .toString('hex')
    .replace(/^[89a-f]/, '1');
}

async function newKeys(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify'])) as CryptoKeyPair;
}

export async function createCa(commonName: string): Promise<Issuer> {
  const keys = await newKeys();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${commonName}`,
    notBefore: new Date(Date.now() - DAY_MS),
    notAfter: new Date(Date.now() + 30 * DAY_MS),
    signingAlgorithm: algorithm,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert, keys, pem: { certPem: cert.toString('pem'), keyPem: await keyPem(keys.privateKey) } };
}

export interface CertRequest {
  commonName: string;
  organizations?: string[];
  usage: 'server' | 'client';
  /** Subject alternative names: IP addresses and DNS names. */
  ips?: string[];
  dnsNames?: string[];
}

export async function issueCert(ca: Issuer, request: CertRequest): Promise<Pem> {
  const keys = await newKeys();
  const subject = [`CN=${request.commonName}`, ...(request.organizations ?? []).map((o) => `O=${o}`)].join(
    ', ',
  );
  const names = [
    ...(request.ips ?? []).map((value) => ({ type: 'ip' as const, value })),
    ...(request.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
  ];
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject,
    issuer: ca.cert.subject,
    notBefore: new Date(Date.now() - DAY_MS),
    notAfter: new Date(Date.now() + 30 * DAY_MS),
    signingAlgorithm: algorithm,
    publicKey: keys.publicKey,
    signingKey: ca.keys.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
        true,
      ),
      new x509.ExtendedKeyUsageExtension([
        request.usage === 'server' ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth,
      ]),
      ...(names.length > 0 ? [new x509.SubjectAlternativeNameExtension(names)] : []),
      await x509.AuthorityKeyIdentifierExtension.create(ca.keys.publicKey),
    ],
  });
  return { certPem: cert.toString('pem'), keyPem: await keyPem(keys.privateKey) };
}

export interface ControlPlaneCerts {
  serving: Pem & { caPem: string };
  clientCaPem: string;
  admin: Pem;
  controllerManager: Pem;
  serviceAccount: { publicKeyPem: string; privateKeyPem: string };
}

export async function makeControlPlaneCerts(): Promise<ControlPlaneCerts> {
  const servingCa = await createCa('athenz-rbac-test-serving-ca');
  const clientCa = await createCa('athenz-rbac-test-client-ca');
  const serving = await issueCert(servingCa, {
    commonName: 'kube-apiserver',
    usage: 'server',
    ips: ['127.0.0.1'],
    dnsNames: ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc'],
  });
  const admin = await issueCert(clientCa, {
    commonName: 'admin',
    organizations: ['system:masters'],
    usage: 'client',
  });
  const controllerManager = await issueCert(clientCa, {
    commonName: 'system:kube-controller-manager',
    usage: 'client',
  });
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    serving: { ...serving, caPem: servingCa.pem.certPem },
    clientCaPem: clientCa.pem.certPem,
    admin,
    controllerManager,
    serviceAccount: {
      publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    },
  };
}
