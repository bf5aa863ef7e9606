import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as k8s from '@kubernetes/client-node';
import { controlPlaneAssets } from './control-plane/assets.ts';
import { makeWorkdir } from './workdir.ts';

/**
 * Runs the pinned helm and kubectl binaries (from `hack/envtest.sh`) against the chart in
 * config/helm/athenz-rbac-operator, and parses what `helm template` renders.
 */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const CHART_DIR = join(REPO_ROOT, 'config/helm/athenz-rbac-operator');
export const CHART_NAME = 'athenz-rbac-operator';

/** Values every install needs (the schema requires them). */
export const REQUIRED_VALUES = {
  zms: { url: 'https://zms.example.com:4443/zms/v1', clientCertSecret: 'zms-client' },
};

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion (never throws on a non-zero exit: callers assert on `code`). */
export function run(
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; input?: string; cwd?: string; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd ?? REPO_ROOT,
      env: { ...process.env, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: options.timeoutMs ?? 60_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, stdout, stderr }));
    // A command that exits without reading its input closes the pipe first (EPIPE): its exit
    // status is the answer, not that.
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
  });
}

/** A scratch folder for values files and kubeconfigs, under the OS temp folder. */
export function scratchDir(prefix = 'helm-test-'): string {
  return makeWorkdir(prefix.replace(/-+$/, ''));
}

/** Writes `values` as a values file (JSON is YAML) and returns its path. */
export function valuesFile(
  dir: string,
  values: unknown,
  name = `values-${Date.now()}-${Math.random()}.yaml`,
) {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(values, null, 2));
  return path;
}

let shared: string | undefined;

/** One scratch folder per test file for values files and helm's state. */
export function sharedScratch(): string {
  shared ??= scratchDir();
  return shared;
}

/** `helm <args>`, its HELM_* state in the scratch folder (never the user's ~/.config/helm). */
export function helm(args: string[], options: { kubeconfig?: string } = {}) {
  const state = join(sharedScratch(), 'helm-state');
  return run(join(controlPlaneAssets(), 'helm'), args, {
    env: {
      HELM_CONFIG_HOME: join(state, 'config'),
      HELM_CACHE_HOME: join(state, 'cache'),
      HELM_DATA_HOME: join(state, 'data'),
      ...(options.kubeconfig ? { KUBECONFIG: options.kubeconfig } : {}),
    },
  });
}

export function kubectl(args: string[], options: { kubeconfig: string; input?: string }) {
  return run(join(controlPlaneAssets(), 'kubectl'), ['--kubeconfig', options.kubeconfig, ...args], {
    ...(options.input !== undefined ? { input: options.input } : {}),
  });
}

/** Fails with helm's own output when a helm or kubectl command did not succeed. */
export function expectSuccess(result: RunResult, what: string): RunResult {
  if (result.code !== 0) {
    throw new Error(`${what} exited ${result.code}:\n${result.stderr}\n${result.stdout}`);
  }
  return result;
}

export type Manifest = k8s.KubernetesObject & Record<string, unknown>;

/** `helm template` with `values` (a values file), returning the YAML text. */
export async function template(
  values: unknown,
  options: { release?: string; namespace?: string; extraArgs?: string[] } = {},
): Promise<RunResult> {
  return helm([
    'template',
    options.release ?? 'rel',
    CHART_DIR,
    '--namespace',
    options.namespace ?? 'athenz-rbac-system',
    '--values',
    valuesFile(sharedScratch(), values),
    ...(options.extraArgs ?? []),
  ]);
}

/** Renders the chart and parses every object. */
export async function render(
  values: unknown,
  options: { release?: string; namespace?: string } = {},
): Promise<Manifest[]> {
  const result = expectSuccess(await template(values, options), 'helm template');
  return k8s.loadAllYaml(result.stdout).filter(Boolean) as Manifest[];
}

/** The one object of `kind` (and `name`, when given) in a rendered manifest list. */
export function find<T = Manifest>(objects: Manifest[], kind: string, name?: string): T {
  const matches = objects.filter((o) => o.kind === kind && (!name || o.metadata?.name === name));
  if (matches.length !== 1) {
    throw new Error(`expected one ${kind}${name ? ` ${name}` : ''}, found ${matches.length}`);
  }
  return matches[0] as T;
}

/** An operator process started from an installed Deployment, the way the kubelet would run it. */
export interface DeploymentProcess {
  podName: string;
  /** stdout's JSON log lines, parsed, as they arrive. */
  logs: Array<Record<string, unknown>>;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  readonly exitCode: number | null | undefined;
  exited: Promise<number | null>;
  /** SIGTERM, then the exit code; SIGKILL when it has not exited within `deadlineMs`. */
  stop(deadlineMs?: number): Promise<number | null>;
  /** What the kubelet does after a Secret changed: swaps the mounted files in one rename. */
  syncSecretVolumes(): Promise<void>;
}

/**
 * Reads the chart's Deployment from the API server and runs its first container as a local
 * process, emulating the kubelet: the container's `args` after the image's entrypoint (here the
 * same program from source, `node src/main.ts`, or `$OPERATOR_MAIN`; the image runs its
 * compiled `dist/main.js`), env with downward-API fields resolved, Secret volumes written (in
 * the kubelet's layout) to a local folder that stands in for the mount path, and `KUBECONFIG` holding the Pod's ServiceAccount token instead of the
 * in-cluster mount. Nothing is copied from the values: what runs is what was installed.
 */
export async function runDeploymentAsProcess(
  admin: k8s.KubeConfig,
  options: { namespace: string; name: string; kubeconfigPath: string; podName?: string; workdir: string },
): Promise<DeploymentProcess> {
  const apps = admin.makeApiClient(k8s.AppsV1Api);
  const core = admin.makeApiClient(k8s.CoreV1Api);
  const deployment = await apps.readNamespacedDeployment({
    name: options.name,
    namespace: options.namespace,
  });
  const pod = deployment.spec!.template.spec!;
  const container = pod.containers[0]!;
  const podName = options.podName ?? `${options.name}-5f7c9d8b4-x2x7q`;

  const mounts = new Map<string, string>();
  const secretVolumes: Array<{ dir: string; secretName: string; mode: number }> = [];
  for (const mount of container.volumeMounts ?? []) {
    const volume = pod.volumes?.find((v) => v.name === mount.name);
    if (mount.subPath) throw new Error(`volume ${mount.name}: a subPath mount never sees a rotated Secret`);
    if (!volume?.secret?.secretName)
      throw new Error(`volume ${mount.name}: only Secret volumes are emulated`);
    const dir = join(options.workdir, 'volumes', mount.name);
    mkdirSync(dir, { recursive: true });
    secretVolumes.push({
      dir,
      secretName: volume.secret.secretName,
      mode: volume.secret.defaultMode ?? 0o644,
    });
    mounts.set(mount.mountPath, dir);
  }
  let generation = 0;
  // The kubelet's atomic writer: the keys are symlinks through `..data`, itself a symlink to a
  // timestamped folder that a Secret update replaces with one rename.
  const syncSecretVolumes = async () => {
    generation++;
    for (const { dir, secretName, mode } of secretVolumes) {
      const secret = await core.readNamespacedSecret({ name: secretName, namespace: options.namespace });
      const payload = `..${generation}_${Date.now()}`;
      mkdirSync(join(dir, payload));
      for (const [key, base64] of Object.entries(secret.data ?? {})) {
        writeFileSync(join(dir, payload, key), Buffer.from(base64, 'base64'), { mode });
        if (!existsSync(join(dir, key))) symlinkSync(join('..data', key), join(dir, key));
      }
      symlinkSync(payload, join(dir, '..data_tmp'));
      renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
    }
  };
  await syncSecretVolumes();
  const localPath = (text: string) => {
    for (const [mountPath, dir] of mounts) {
      if (text.includes(`${mountPath}/`)) return text.replace(`${mountPath}/`, `${dir}/`);
    }
    return text;
  };
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, KUBECONFIG: options.kubeconfigPath };
  const fields: Record<string, string> = {
    'metadata.namespace': options.namespace,
    'metadata.name': podName,
  };
  for (const e of container.env ?? []) {
    const field = e.valueFrom?.fieldRef?.fieldPath;
    if (field !== undefined) {
      if (!(field in fields)) throw new Error(`env ${e.name}: field ${field} is not emulated`);
      env[e.name] = fields[field];
    } else if (e.valueFrom) {
      throw new Error(`env ${e.name}: only values and fieldRefs are emulated`);
    } else {
      env[e.name] = localPath(e.value ?? '');
    }
  }
  if (container.command?.length) throw new Error('the chart must not override the image entrypoint');
  const args = (container.args ?? []).map(localPath);

  // OPERATOR_MAIN runs another build of the same program, e.g. an image's /app/dist/main.js
  // copied out (compiled, production dependencies only).
  const main = process.env.OPERATOR_MAIN ?? join(REPO_ROOT, 'src/main.ts');
  const child = spawn(process.execPath, ['--enable-source-maps', main, ...args], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Array<Record<string, unknown>> = [];
  let output = '';
  let partial = '';
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk;
    const lines = (partial + chunk.toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines.filter(Boolean)) {
      try {
        logs.push(JSON.parse(line));
      } catch {
        logs.push({ raw: line });
      }
    }
  });
  child.stderr.on('data', (chunk: Buffer) => {
    output += chunk;
  });
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolvePromise) =>
    child.on('exit', (code) => {
      exitCode = code;
      resolvePromise(code);
    }),
  );
  return {
    podName,
    logs,
    output: () => output,
    get exitCode() {
      return exitCode;
    },
    exited,
    syncSecretVolumes,
    async stop(deadlineMs = 15_000) {
      if (exitCode !== undefined) return exitCode;
      child.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<'deadline'>((r) => {
        timer = setTimeout(() => r('deadline'), deadlineMs);
      });
      const first = await Promise.race([exited, deadline]);
      clearTimeout(timer);
      if (first !== 'deadline') return first;
      child.kill('SIGKILL');
      await exited;
      throw new Error(
        `the operator did not exit within ${deadlineMs} ms of SIGTERM:\n${output.slice(-2000)}`,
      );
    },
  };
}
