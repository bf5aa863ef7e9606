import { writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { freePort } from '../ports.ts';
import { WaitAborted, waitFor } from '../wait.ts';
import { assetPath, controlPlaneAssets } from './assets.ts';
import { makeControlPlaneCerts } from './certs.ts';
import { kubeconfigYaml } from './kubeconfig.ts';
import { type ManagedProcess, makeWorkdir, removeWorkdir, spawnManaged } from './processes.ts';

/**
 * A real etcd + kube-apiserver on free loopback ports, as controller-runtime's envtest runs them:
 * RBAC authorization, ServiceAccount token signing (so `mintToken` returns a token that the API
 * server authenticates and authorizes for real), and an admin kubeconfig (client certificate in
 * `system:masters`). Start one per test file; isolate tests by namespace.
 *
 * Beside them runs a kube-controller-manager with the controllers that make the API behave like
 * a cluster's (CONTROLLERS): deleted namespaces are emptied and go away by themselves, owner
 * references are garbage-collected, the aggregated ClusterRoles `admin`, `edit` and `view` get
 * their rules, every namespace gets its `default` ServiceAccount and `kube-root-ca.crt`. No
 * workload controllers: a Deployment is stored, no Pod is made (nothing could run it).
 */
export const CONTROLLERS = [
  'garbage-collector-controller',
  'namespace-controller',
  'clusterrole-aggregation-controller',
  'serviceaccount-controller',
  'serviceaccount-token-controller',
  'root-ca-certificate-publisher-controller',
] as const;

export interface ControlPlane {
  readonly url: string;
  /** Admin kubeconfig file, for kubectl and helm. */
  readonly kubeconfigPath: string;
  /** Admin client configuration. */
  readonly kubeConfig: k8s.KubeConfig;
  /** The folder with etcd, kube-apiserver, kube-controller-manager, kubectl and helm. */
  readonly assetsDir: string;
  readonly workdir: string;
  /** A token for the ServiceAccount (created if missing) through the TokenRequest API. */
  mintToken(namespace: string, serviceAccount: string, expirationSeconds?: number): Promise<string>;
  /** A client configuration, and a kubeconfig file, that authenticate with `token`. */
  kubeConfigForToken(token: string): { kubeConfig: k8s.KubeConfig; kubeconfigPath: string };
  /** Freezes kube-apiserver (SIGSTOP): connections stay open and nothing answers, as in a
   * stalled control plane. `resume` (idempotent) lets it go on; `stop` resumes it first. */
  freezeApiServer(): { resume(): void };
  /** Kills kube-apiserver (SIGKILL) and starts it again on the same port and etcd; resolves once
   * it serves. Every client sees its connections drop, as in a control-plane upgrade. */
  restartApiServer(timeoutMs?: number): Promise<void>;
  /** Stops the processes and removes every file. Idempotent. */
  stop(): Promise<void>;
}

export interface ControlPlaneOptions {
  /** Deadline for the API server to report ready. */
  startTimeoutMs?: number;
  /** Extra kube-apiserver flags. */
  apiServerArgs?: string[];
  /**
   * Runs once the API server answers, before kube-controller-manager starts: CRDs installed here
   * are known to the garbage collector from its first discovery (it rediscovers only every 30 s).
   */
  beforeControllers?: (kubeConfig: k8s.KubeConfig) => Promise<void>;
}

export async function startControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const assetsDir = controlPlaneAssets();
  const workdir = makeWorkdir('cp');
  const processes: ManagedProcess[] = [];
  const resumers = new Set<() => void>();
  const stop = async () => {
    for (const resume of resumers) resume();
    for (const p of processes.reverse()) await p.stop();
    processes.length = 0;
    removeWorkdir(workdir);
  };
  try {
    const certs = await makeControlPlaneCerts();
    const file = (name: string, content: string) => {
      const path = join(workdir, name);
      writeFileSync(path, content, { mode: 0o600 });
      return path;
    };
    const [etcdClient, etcdPeer, securePort] = [await freePort(), await freePort(), await freePort()];
    const etcdUrl = `http://127.0.0.1:${etcdClient}`;
    processes.push(
      spawnManaged(
        'etcd',
        assetPath('etcd'),
        [
          `--data-dir=${join(workdir, 'etcd')}`,
          `--listen-client-urls=${etcdUrl}`,
          `--advertise-client-urls=${etcdUrl}`,
          `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
          `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
          `--initial-cluster=default=http://127.0.0.1:${etcdPeer}`,
          '--unsafe-no-fsync=true',
          '--log-level=warn',
        ],
        workdir,
      ),
    );
    const url = `https://127.0.0.1:${securePort}`;
    const apiServerArgs = [
      `--etcd-servers=${etcdUrl}`,
      `--cert-dir=${workdir}`,
      `--tls-cert-file=${file('serving.crt', certs.serving.certPem)}`,
      `--tls-private-key-file=${file('serving.key', certs.serving.keyPem)}`,
      `--secure-port=${securePort}`,
      '--bind-address=127.0.0.1',
      // No Service endpoints to maintain: nothing runs in this cluster but API clients.
      '--endpoint-reconciler-type=none',
      '--service-cluster-ip-range=10.0.0.0/24',
      '--authorization-mode=RBAC',
      '--allow-privileged=true',
      '--disable-admission-plugins=ServiceAccount',
      `--service-account-issuer=${url}/`,
      `--service-account-key-file=${file('sa-signer.pub', certs.serviceAccount.publicKeyPem)}`,
      `--service-account-signing-key-file=${file('sa-signer.key', certs.serviceAccount.privateKeyPem)}`,
      `--client-ca-file=${file('client-ca.crt', certs.clientCaPem)}`,
      '--v=0',
      ...(options.apiServerArgs ?? []),
    ];
    const spawnApiServer = () =>
      spawnManaged('kube-apiserver', assetPath('kube-apiserver'), apiServerArgs, workdir);
    processes.push(spawnApiServer());
    const caPath = file('ca.crt', certs.serving.caPem);
    const adminCert = file('admin.crt', certs.admin.certPem);
    const adminKey = file('admin.key', certs.admin.keyPem);
    const kubeconfigPath = file(
      'kubeconfig',
      kubeconfigYaml({ server: url, caPath, user: { clientCertificate: adminCert, clientKey: adminKey } }),
    );
    const kubeConfig = new k8s.KubeConfig();
    kubeConfig.loadFromFile(kubeconfigPath);
    const deadline = Date.now() + (options.startTimeoutMs ?? 60_000);
    const health = kubeConfig.makeApiClient(k8s.CoreV1Api);
    // Reading a namespace needs etcd, authentication and RBAC's bootstrap policy: all of it.
    await waitUntilReady('kube-apiserver to serve', processes, deadline, async () => {
      await health.readNamespace({ name: 'default' });
      return true;
    });

    await options.beforeControllers?.(kubeConfig);

    // Started once the API server answers /healthz to it: kube-controller-manager polls that once
    // a second (giving up after 10 s), and it fails for a while after the admin (system:masters,
    // no RBAC check) is served: 403 until RBAC's bootstrap policy is loaded, then 500 until the
    // rbac/bootstrap-roles post-start hook ends (about 2 s on a busy 2-core machine).
    await waitUntilReady('kube-apiserver to authorize kube-controller-manager', processes, deadline, () =>
      httpsOk(`${url}/healthz`, {
        ca: certs.serving.caPem,
        cert: certs.controllerManager.certPem,
        key: certs.controllerManager.keyPem,
      }),
    );
    const kcmPort = await freePort();
    const kcmKubeconfig = file(
      'kube-controller-manager.kubeconfig',
      kubeconfigYaml({
        server: url,
        caPath,
        user: {
          clientCertificate: file('kube-controller-manager.crt', certs.controllerManager.certPem),
          clientKey: file('kube-controller-manager.key', certs.controllerManager.keyPem),
        },
      }),
    );
    processes.push(
      spawnManaged(
        'kube-controller-manager',
        assetPath('kube-controller-manager'),
        [
          `--kubeconfig=${kcmKubeconfig}`,
          `--controllers=${CONTROLLERS.join(',')}`,
          // Each controller acts as its own ServiceAccount with the bootstrap policy's
          // system:controller:* role, as in kubeadm clusters: RBAC is exercised as it is there.
          '--use-service-account-credentials=true',
          `--service-account-private-key-file=${join(workdir, 'sa-signer.key')}`,
          `--root-ca-file=${caPath}`,
          '--leader-elect=false',
          '--bind-address=127.0.0.1',
          `--secure-port=${kcmPort}`,
          `--tls-cert-file=${join(workdir, 'serving.crt')}`,
          `--tls-private-key-file=${join(workdir, 'serving.key')}`,
          // Tests delete namespaces and owners in bursts: the default 20 requests/s would queue.
          '--kube-api-qps=200',
          '--kube-api-burst=400',
          '--v=0',
        ],
        workdir,
      ),
    );
    const rbac = kubeConfig.makeApiClient(k8s.RbacAuthorizationV1Api);
    await waitUntilReady('kube-controller-manager to be healthy', processes, deadline, () =>
      httpsOk(`https://127.0.0.1:${kcmPort}/healthz`, { ca: certs.serving.caPem }),
    );
    // The last of its start-up work to show: the aggregated roles get their rules.
    await waitUntilReady('the aggregated ClusterRoles to get their rules', processes, deadline, async () => {
      for (const name of ['admin', 'edit', 'view']) {
        const role = await rbac.readClusterRole({ name });
        if ((role.rules ?? []).length === 0) return false;
      }
      return true;
    });

    let tokenFiles = 0;
    const kubeConfigForToken = (token: string) => {
      const path = file(
        `kubeconfig-token-${++tokenFiles}`,
        kubeconfigYaml({ server: url, caPath, user: { token } }),
      );
      const config = new k8s.KubeConfig();
      config.loadFromFile(path);
      return { kubeConfig: config, kubeconfigPath: path };
    };
    const apiServer = () => processes.find((p) => p.name === 'kube-apiserver')!;
    const freezeApiServer = () => {
      let frozen = true;
      const { pid } = apiServer();
      process.kill(pid, 'SIGSTOP');
      const resume = () => {
        if (!frozen) return;
        frozen = false;
        process.kill(pid, 'SIGCONT');
      };
      resumers.add(resume);
      return { resume };
    };
    const restartApiServer = async (timeoutMs = 60_000) => {
      const old = apiServer();
      processes.splice(processes.indexOf(old), 1);
      await old.kill();
      await old.exited;
      processes.push(spawnApiServer());
      await waitUntilReady('kube-apiserver to serve again', processes, Date.now() + timeoutMs, async () => {
        await health.readNamespace({ name: 'default' });
        return true;
      });
    };
    return {
      url,
      kubeconfigPath,
      kubeConfig,
      assetsDir,
      workdir,
      freezeApiServer,
      restartApiServer,
      mintToken: (namespace, serviceAccount, expirationSeconds = 3600) =>
        mintToken(kubeConfig, namespace, serviceAccount, expirationSeconds),
      kubeConfigForToken,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Waits for `check` until `deadline`, giving up at once when one of the processes exits. */
async function waitUntilReady(
  what: string,
  processes: ManagedProcess[],
  deadline: number,
  check: () => Promise<boolean>,
) {
  const exited = new Map<string, number | string>();
  for (const p of processes) void p.exited.then((code) => exited.set(p.name, code));
  try {
    await waitFor(
      what,
      async () => {
        const dead = [...exited.keys()];
        if (dead.length > 0) throw new WaitAborted(`${dead.join(', ')} exited`);
        return check();
      },
      { timeoutMs: Math.max(deadline - Date.now(), 0), intervalMs: 100 },
    );
  } catch (err) {
    const logs = processes.map((p) => `--- ${p.name} (${p.logPath}):\n${p.logTail(15)}`).join('\n');
    throw new Error(`control plane did not become ready: ${(err as Error).message}\n${logs}`);
  }
}

/** True when `url` answers 200, over TLS verified with `tls.ca` (and a client certificate). */
function httpsOk(url: string, tls: { ca: string; cert?: string; key?: string }): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ...tls, timeout: 5_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200));
    });
    req.on('timeout', () => req.destroy(new Error(`${url}: no answer within 5 s`)));
    req.on('error', reject);
    req.end();
  });
}

async function mintToken(
  kubeConfig: k8s.KubeConfig,
  namespace: string,
  name: string,
  expirationSeconds: number,
) {
  const core = kubeConfig.makeApiClient(k8s.CoreV1Api);
  await core
    .createNamespacedServiceAccount({ namespace, body: { metadata: { name } } })
    .catch((err: unknown) => {
      if ((err as { code?: number }).code !== 409) throw err;
    });
  const request = await core.createNamespacedServiceAccountToken({
    name,
    namespace,
    body: { spec: { audiences: [], expirationSeconds } },
  });
  if (!request.status?.token) throw new Error(`TokenRequest for ${namespace}/${name} returned no token`);
  return request.status.token;
}
