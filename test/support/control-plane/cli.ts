/**
 * `make control-plane`: starts a test control plane (etcd, kube-apiserver, kube-controller-manager)
 * in the foreground, prints how to point kubectl at it, and removes everything on Ctrl-C.
 */
import { startControlPlane } from './control-plane.ts';

const plane = await startControlPlane();
process.stdout.write(
  [
    `control plane ready at ${plane.url}`,
    '',
    `export KUBECONFIG=${plane.kubeconfigPath}`,
    `export PATH=${plane.assetsDir}:$PATH   # kubectl and helm of the pinned versions`,
    'kubectl get namespaces',
    'kubectl get clusterrole view -o yaml   # aggregated by kube-controller-manager',
    '',
    'Press Ctrl-C to stop and clean up.',
    '',
  ].join('\n'),
);
let stopping = false;
const shutdown = async () => {
  if (stopping) return;
  stopping = true;
  await plane.stop();
  process.exit(0);
};
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
