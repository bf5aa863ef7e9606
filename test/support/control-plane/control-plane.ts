import { writeFileSync } from 'node:fs';
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
 */
export interface ControlPlane {
  readonly url: string;
  /** Admin kubeconfig file, for kubectl and helm. */
  readonly kubeconfigPath: string;
  /** Admin client configuration. */
  readonly kubeConfig: k8s.KubeConfig;
  /** The folder with etcd, kube-apiserver, kubectl and helm. */
  readonly assetsDir: string;
  readonly workdir: string;
  /** A token for the ServiceAccount (created if missing) through the TokenRequest API. */
  mintToken(namespace: string, serviceAccount: string, expirationSeconds?: number): Promise<string>;
  /** A client configuration, and a kubeconfig file, that authenticate with `token`. */
  kubeConfigForToken(token: string): { kubeConfig: k8s.KubeConfig; kubeconfigPath: string };
  /** Stops both processes and removes every file. Idempotent. */
  stop(): Promise<void>;
}

export interface ControlPlaneOptions {
  /** Deadline for the API server to report ready. */
  startTimeoutMs?: number;
  /** Extra kube-apiserver flags. */
  apiServerArgs?: string[];
}

export async function startControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const assetsDir = controlPlaneAssets();
  const workdir = makeWorkdir('cp');
  const processes: ManagedProcess[] = [];
  const stop = async () => {
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
    processes.push(
      spawnManaged(
        'kube-apiserver',
        assetPath('kube-apiserver'),
        [
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
        ],
        workdir,
      ),
    );
    const caPath = file('ca.crt', certs.serving.caPem);
    const adminCert = file('admin.crt', certs.admin.certPem);
    const adminKey = file('admin.key', certs.admin.keyPem);
    const kubeconfigPath = file(
      'kubeconfig',
      kubeconfigYaml({ server: url, caPath, user: { clientCertificate: adminCert, clientKey: adminKey } }),
    );
    const kubeConfig = new k8s.KubeConfig();
    kubeConfig.loadFromFile(kubeconfigPath);
    await waitUntilReady(kubeConfig, processes, options.startTimeoutMs ?? 60_000);

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
    return {
      url,
      kubeconfigPath,
      kubeConfig,
      assetsDir,
      workdir,
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

async function waitUntilReady(kubeConfig: k8s.KubeConfig, processes: ManagedProcess[], timeoutMs: number) {
  const exited = new Map<string, number | string>();
  for (const p of processes) void p.exited.then((code) => exited.set(p.name, code));
  const health = kubeConfig.makeApiClient(k8s.CoreV1Api);
  try {
    await waitFor(
      'kube-apiserver /readyz',
      async () => {
        const dead = [...exited.keys()];
        if (dead.length > 0) throw new WaitAborted(`${dead.join(', ')} exited`);
        // Reading a namespace needs etcd, authentication and RBAC's bootstrap policy: all of it.
        await health.readNamespace({ name: 'default' });
        return true;
      },
      { timeoutMs, intervalMs: 100 },
    );
  } catch (err) {
    const logs = processes.map((p) => `--- ${p.name} (${p.logPath}):\n${p.logTail(15)}`).join('\n');
    throw new Error(`control plane did not become ready: ${(err as Error).message}\n${logs}`);
  }
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
