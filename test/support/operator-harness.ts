import type * as k8s from '@kubernetes/client-node';
import { Operator, type OperatorConfig } from '../../src/controller/operator.ts';
import { createMetrics, type Metrics } from '../../src/runtime/metrics.ts';
import { createZmsClient, type ZmsClient, type ZmsClientOptions } from '../../src/zms/client.ts';
import { Cluster, installCrd } from './cluster-fixtures.ts';
import { type ControlPlane, startControlPlane } from './control-plane/control-plane.ts';
import { captureLogger } from './log-capture.ts';
import type { ClientCertificate } from './pki.ts';
import { waitFor } from './wait.ts';
import { ATHENZ_ADMIN, OPERATOR_PRINCIPAL, ZmsAdmin } from './zms-admin.ts';
import { startZmsServer, type ZmsServer } from './zms-server/server.ts';

/**
 * Everything an operator integration test needs, one per test file: a real control plane with
 * the CRD installed, a ZMS test server with the operator's identity (`athenz.k8s.operator`,
 * admin of the parent domains the test creates), an Athenz admin client for arranging members,
 * and an in-process operator whose log entries are kept for assertions.
 */
export { ATHENZ_ADMIN, OPERATOR_PRINCIPAL } from './zms-admin.ts';

export interface Harness {
  plane: ControlPlane;
  zms: ZmsServer;
  cluster: Cluster;
  admin: ZmsAdmin;
  operatorCert: ClientCertificate;
  /** Creates `parent` (and its ancestors) with the Athenz admin and the operator as admins. */
  ensureParentDomain(parent: string): Promise<void>;
  /** Starts an operator in this process; `kubeConfig` defaults to the admin's (e.g. pass a
   * ServiceAccount's to run it with exactly that RBAC). */
  startOperator(
    overrides?: Partial<OperatorConfig>,
    client?: Partial<ZmsClientOptions>,
    kubeConfig?: k8s.KubeConfig,
  ): Promise<RunningOperator>;
  stop(): Promise<void>;
}

export interface RunningOperator {
  operator: Operator;
  zmsClient: ZmsClient;
  metrics: Metrics;
  logs: Array<Record<string, unknown>>;
  /** Waits for a log entry with these fields: lines are written just after the action they
   * describe, so a test that saw the action must still wait for its line. */
  waitForLog(fields: Record<string, unknown>): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
}

export const DEFAULT_OPERATOR_CONFIG: OperatorConfig = {
  allowedClusterRoles: ['admin', 'edit', 'view'],
  excludedNamespaces: [],
  operatorNamespace: 'athenz-rbac-system',
  operatorPrincipal: OPERATOR_PRINCIPAL,
  workers: 2,
  namespaceConcurrency: 8,
  resyncPeriodMs: 10 * 60_000,
  fieldManager: 'athenz-rbac-operator',
  instance: 'test',
  defaultIntervalMs: 2_000,
};

export async function startHarness(
  zmsOptions: Omit<Parameters<typeof startZmsServer>[0] & object, 'adminPrincipals'> = {},
): Promise<Harness> {
  const [plane, zms] = await Promise.all([
    // The CRD first, so that the garbage collector watches AthenzRoleMappings from its start.
    startControlPlane({ beforeControllers: installCrd }),
    startZmsServer({ ...zmsOptions, adminPrincipals: [ATHENZ_ADMIN] }),
  ]);
  const running: RunningOperator[] = [];
  try {
    const cluster = new Cluster(plane.kubeConfig);
    await cluster.createNamespace(DEFAULT_OPERATOR_CONFIG.operatorNamespace);
    const adminCert = await zms.pki.issueClientCert(ATHENZ_ADMIN);
    const operatorCert = await zms.pki.issueClientCert(OPERATOR_PRINCIPAL);
    const admin = new ZmsAdmin(zms.url, zms.pki.caPem, adminCert);
    await admin.ensureOperatorDomain();

    const startOperator = async (
      overrides: Partial<OperatorConfig> = {},
      client: Partial<ZmsClientOptions> = {},
      kubeConfig = plane.kubeConfig,
    ) => {
      const { log, entries } = captureLogger();
      const metrics = createMetrics({ defaultMetrics: false });
      const zmsClient = createZmsClient({
        url: zms.url,
        tls: { certFile: operatorCert.certPath, keyFile: operatorCert.keyPath, caFile: zms.pki.caPath },
        timeoutMs: 2_000,
        backoff: { baseMs: 20, maxMs: 200 },
        observe: ({ endpoint, method, status }) =>
          metrics.zmsRequests.inc({ endpoint, method, code: String(status) }),
        ...client,
      });
      const operator = new Operator(
        kubeConfig,
        zmsClient,
        { ...DEFAULT_OPERATOR_CONFIG, ...overrides },
        log,
        metrics,
      );
      await operator.startCaches();
      operator.startWorkers();
      let stopped = false;
      const handle: RunningOperator = {
        operator,
        zmsClient,
        metrics,
        logs: entries,
        waitForLog: (fields) =>
          waitFor(`a log entry ${JSON.stringify(fields)}`, () =>
            entries.find((e) => Object.entries(fields).every(([k, v]) => e[k] === v)),
          ),
        stop: async () => {
          if (stopped) return;
          stopped = true;
          await operator.stop(5_000);
          await zmsClient.close();
        },
      };
      running.push(handle);
      return handle;
    };

    return {
      plane,
      zms,
      cluster,
      admin,
      operatorCert,
      ensureParentDomain: (parent) => admin.ensureParentDomain(parent),
      startOperator,
      stop: async () => {
        for (const r of running) await r.stop();
        await admin.close();
        await Promise.all([plane.stop(), zms.stop()]);
      },
    };
  } catch (err) {
    await Promise.all([plane.stop(), zms.stop()]);
    throw err;
  }
}
