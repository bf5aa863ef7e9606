import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { makeTestPki } from '../../test/support/pki.ts';
import { ATHENZ_ADMIN, OPERATOR_PRINCIPAL, ZmsAdmin } from '../../test/support/zms-admin.ts';
import type { Quotas } from '../../test/support/zms-server/model.ts';
import { startZmsServer, type ZmsServer } from '../../test/support/zms-server/server.ts';

export { ATHENZ_ADMIN, OPERATOR_PRINCIPAL } from '../../test/support/zms-admin.ts';
export const OPERATOR_NAMESPACE = 'athenz-rbac-system';

export interface ZmsSetup {
  server: ZmsServer;
  admin: ZmsAdmin;
  adminCert: { certPath: string; keyPath: string };
  operatorCert: { certPath: string; keyPath: string };
  caPath: string;
}

/**
 * Starts the ZMS test server in this process on `preferredPort` (another free port when that
 * one is taken), with its certificates in `certDir` (reused across runs, so a client configured
 * once keeps working) and, when given, its state in `stateDir`. Client certificates for the
 * Athenz admin and the operator are issued (or reused) there too.
 */
export async function startZms(options: {
  preferredPort: number;
  certDir: string;
  stateDir?: string;
  quotas?: Partial<Quotas>;
}): Promise<ZmsSetup> {
  const pki = await makeTestPki(options.certDir);
  const adminCert = await pki.loadOrIssueClientCert(ATHENZ_ADMIN);
  const operatorCert = await pki.loadOrIssueClientCert(OPERATOR_PRINCIPAL);
  const start = (port: number) =>
    startZmsServer({
      pki,
      port,
      adminPrincipals: [ATHENZ_ADMIN],
      adminPort: 0,
      ...(options.stateDir ? { stateDir: options.stateDir } : {}),
      ...(options.quotas ? { quotas: options.quotas } : {}),
    });
  let server: ZmsServer;
  try {
    server = await start(options.preferredPort);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || options.preferredPort === 0) throw err;
    server = await start(0);
  }
  const admin = new ZmsAdmin(server.url, pki.caPem, adminCert);
  return { server, admin, adminCert, operatorCert, caPath: pki.caPath };
}

/**
 * The Athenz side every setup needs: the operator's principal `athenz.k8s.operator` must name
 * an existing domain before it can be a member anywhere, and each parent domain has the
 * operator as an admin so that it may create the namespace subdomains under it.
 */
export async function bootstrapAthenz(admin: ZmsAdmin, parentDomains: string[]): Promise<void> {
  await admin.ensureOperatorDomain();
  for (const parent of parentDomains) await admin.ensureParentDomain(parent);
}

const execFileAsync = promisify(execFile);

/** Runs a binary of the control-plane assets folder (kubectl) against `kubeconfigPath`. */
export async function kubectl(
  assetsDir: string,
  kubeconfigPath: string,
  args: string[],
): Promise<{ stdout: string; stderr: string }> {
  try {
    return await execFileAsync(join(assetsDir, 'kubectl'), args, {
      env: { ...process.env, KUBECONFIG: kubeconfigPath },
      timeout: 30_000,
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new Error(`kubectl ${args.join(' ')} failed: ${e.stderr?.trim() || e.message}`);
  }
}
