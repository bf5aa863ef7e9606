import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const BINARIES = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kubectl', 'helm'] as const;

let cached: string | undefined;

/**
 * The folder holding etcd, kube-apiserver, kube-controller-manager, kubectl and helm: `$KUBEBUILDER_ASSETS` when it has
 * them all, otherwise whatever `hack/envtest.sh` prints (it builds them on a cold cache, which
 * takes minutes; `make test` runs it before jest so tests never pay that inside a timeout).
 */
export function controlPlaneAssets(): string {
  if (cached) return cached;
  const fromEnv = process.env.KUBEBUILDER_ASSETS;
  if (fromEnv && BINARIES.every((b) => existsSync(join(fromEnv, b)))) {
    cached = fromEnv;
  } else {
    cached = execFileSync('bash', [join(REPO_ROOT, 'hack/envtest.sh')], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    }).trim();
  }
  return cached;
}

export function assetPath(binary: (typeof BINARIES)[number]): string {
  return join(controlPlaneAssets(), binary);
}
