/**
 * `make sandbox`: a local playground with everything real but the cloud. It starts a test
 * control plane (etcd + kube-apiserver) and the ZMS test server in this process, sets up Athenz
 * (domains athenz, athenz.k8s, eks, eks.users with the operator as an admin) and the cluster
 * (the CRD, the operator's namespace, `samples/`, labelled demo namespaces), runs the operator
 * as a child process (`node src/main.ts`, logs in <dir>/operator.log), waits for the first
 * mapping to be Ready and prints a copy-paste guide. Ctrl-C stops and removes everything
 * except the certificates and the ZMS state in <dir>.
 *
 *   node hack/sandbox.ts [--dir .cache/sandbox] [--zms-port 4443] [--fresh] [--no-operator]
 *                        [--smoke] [--ready-timeout 120]
 *
 * --smoke (CI) runs the guide's own command strings through a shell: the zms-cli ones (add a
 * member, wait for the subject, remove it, wait for it to go, add it temporarily), then the
 * curl ones likewise; prints the timings, then stops and exits 0, or non-zero on any failure.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import type * as k8s from '@kubernetes/client-node';
import { locateAthenzTools } from '../test/support/athenz-tools.ts';
import { Cluster, installCrd } from '../test/support/cluster-fixtures.ts';
import { type ControlPlane, startControlPlane } from '../test/support/control-plane/control-plane.ts';
import { WaitAborted, waitFor } from '../test/support/wait.ts';
import {
  DEMO_MEMBER,
  DEMO_NAMESPACE,
  DEMO_ROLE,
  envFileText,
  type Guide,
  type GuideInput,
  guideCommands,
  renderGuide,
} from './sandbox/guide.ts';
import { type OperatorProcess, REPO_ROOT, startOperatorProcess } from './sandbox/operator-process.ts';
import {
  ATHENZ_ADMIN,
  bootstrapAthenz,
  kubectl,
  OPERATOR_NAMESPACE,
  OPERATOR_PRINCIPAL,
  startZms,
  type ZmsSetup,
} from './sandbox/servers.ts';

const startedAt = performance.now();
const elapsed = (from = startedAt) => `${((performance.now() - from) / 1000).toFixed(1)} s`;

const USAGE = `usage: node hack/sandbox.ts [--dir DIR] [--zms-port N] [--fresh] [--no-operator] [--smoke] [--ready-timeout SECONDS]`;
let args: ReturnType<typeof parse>;
function parse() {
  return parseArgs({
    options: {
      dir: { type: 'string', default: join(REPO_ROOT, '.cache/sandbox') },
      'zms-port': { type: 'string', default: '4443' },
      fresh: { type: 'boolean', default: false },
      'no-operator': { type: 'boolean', default: false },
      smoke: { type: 'boolean', default: false },
      'ready-timeout': { type: 'string', default: '120' },
      help: { type: 'boolean', default: false },
    },
  }).values;
}
try {
  args = parse();
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
  process.exit(2);
}
if (args.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const zmsPort = Number(args['zms-port']);
const readyTimeoutMs = Number(args['ready-timeout']) * 1000;
if (!Number.isInteger(zmsPort) || zmsPort < 0 || zmsPort > 65535 || !(readyTimeoutMs > 0)) {
  process.stderr.write(`--zms-port must be a port and --ready-timeout a number of seconds\n${USAGE}\n`);
  process.exit(2);
}
if (args.smoke && args['no-operator']) {
  process.stderr.write('--smoke needs the operator: drop --no-operator\n');
  process.exit(2);
}

const PARENT = 'eks.users';
/** The demo namespaces and the labels through which the samples select them. */
const DEMO_NAMESPACES: Record<string, Record<string, string>> = {
  'team-a': { 'athenz.io/sync': 'true' },
  'team-b': { 'athenz.io/sync': 'true' },
  'team-preview': { 'athenz.io/sync-dry-run': 'true' },
  platform: { 'athenz.io/profile': 'platform' },
};
/** The mapping of samples/basic.yaml: the one whose Ready the sandbox waits for. */
const FIRST_MAPPING = 'eks-users';
const FIRST_MAPPING_NAMESPACES = Object.values(DEMO_NAMESPACES).filter(
  (labels) => labels['athenz.io/sync'] === 'true',
).length;

const dir = resolve(args.dir);
const files = {
  lock: join(dir, 'sandbox.pid'),
  kubeconfig: join(dir, 'kubeconfig'),
  env: join(dir, 'env.sh'),
  operatorLog: join(dir, 'operator.log'),
  certs: join(dir, 'certs'),
  state: join(dir, 'zms-state'),
};

const say = (line = '') => process.stdout.write(`${line}\n`);
const running: { plane?: ControlPlane; zms?: ZmsSetup; operator?: OperatorProcess } = {};
let stopping: Promise<never> | undefined;

/** Stops the operator first (it shuts down gracefully), then ZMS and the control plane. */
function shutdown(code: number, why?: string): Promise<never> {
  stopping ??= (async () => {
    if (why) say(`\n${why}: stopping the sandbox...`);
    const step = async (what: string, fn: () => Promise<unknown>) => {
      try {
        await fn();
      } catch (err) {
        process.stderr.write(`stopping ${what} failed: ${(err as Error).message}\n`);
      }
    };
    if (running.operator) await step('the operator', () => running.operator!.stop(10_000));
    if (running.zms) {
      await step('ZMS', async () => {
        await running.zms!.admin.close();
        await running.zms!.server.stop();
      });
    }
    if (running.plane) await step('the control plane', () => running.plane!.stop());
    for (const file of [files.kubeconfig, files.env]) rmSync(file, { force: true });
    if (ownsLock()) rmSync(files.lock, { force: true });
    say(`sandbox stopped (certificates and ZMS state kept in ${dir})`);
    process.exit(code);
  })();
  return stopping;
}

let signals = 0;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (++signals > 1) {
      process.stderr.write('second signal: exiting without cleanup\n');
      process.exit(130);
    }
    void shutdown(signal === 'SIGINT' ? 130 : 143, signal);
  });
}

function ownsLock(): boolean {
  try {
    return Number(readFileSync(files.lock, 'utf8')) === process.pid;
  } catch {
    return false;
  }
}

/** One sandbox per folder: the ZMS state and the kubeconfig would be shared otherwise. */
function takeLock(): void {
  mkdirSync(dir, { recursive: true });
  if (existsSync(files.lock)) {
    const pid = Number(readFileSync(files.lock, 'utf8'));
    let alive = false;
    try {
      alive = pid > 0 && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('sandbox.ts');
    } catch {}
    if (alive) {
      throw new Error(
        `another sandbox (pid ${pid}) uses ${dir}: stop it (Ctrl-C there, or kill ${pid}) or pass --dir`,
      );
    }
  }
  writeFileSync(files.lock, String(process.pid));
}

async function main(): Promise<void> {
  takeLock();
  if (args.fresh) rmSync(files.state, { recursive: true, force: true });

  say('Starting a control plane (etcd, kube-apiserver, kube-controller-manager) and the ZMS test server...');
  const [plane, zms, tools] = await Promise.allSettled([
    // The CRD before the controllers, so that the garbage collector watches mappings at once.
    startControlPlane({ beforeControllers: installCrd }),
    startZms({ preferredPort: zmsPort, certDir: files.certs, stateDir: files.state }),
    // zms-cli, for the guide (built on first use, then taken from the cache).
    locateAthenzTools(),
  ]);
  if (plane.status === 'fulfilled') running.plane = plane.value;
  if (zms.status === 'fulfilled') running.zms = zms.value;
  if (plane.status === 'rejected') throw plane.reason;
  if (zms.status === 'rejected') throw zms.reason;
  if (tools.status === 'rejected') throw tools.reason;
  const cp = plane.value;
  const athenz = zms.value;
  if (zmsPort !== 0 && athenz.server.port !== zmsPort) {
    say(`  port ${zmsPort} is taken: ZMS listens on ${athenz.server.port} instead`);
  }
  writeFileSync(files.kubeconfig, readFileSync(cp.kubeconfigPath, 'utf8'), { mode: 0o600 });
  say(`  ready after ${elapsed()}`);

  const setupStart = performance.now();
  await setUpAthenz(athenz);
  await setUpCluster(cp);
  say(`Athenz domains, CRD, samples/ and demo namespaces set up in ${elapsed(setupStart)}`);

  const guideInput: GuideInput = {
    kubeconfigPath: files.kubeconfig,
    assetsDir: cp.assetsDir,
    athenzToolsDir: tools.value,
    zmsUrl: athenz.server.url,
    zmsAdminUrl: athenz.server.adminUrl,
    adminCertPath: athenz.adminCert.certPath,
    adminKeyPath: athenz.adminCert.keyPath,
    caPath: athenz.caPath,
    parentDomain: PARENT,
    envFile: files.env,
    // A whole second, so that the date reads well in the guide.
    temporaryUntil: new Date(Math.floor(Date.now() / 1000) * 1000 + 3_600_000),
  };
  writeFileSync(files.env, envFileText(guideInput, athenz.operatorCert, OPERATOR_NAMESPACE));

  const cluster = new Cluster(cp.kubeConfig);
  if (args['no-operator']) {
    say('');
    say(renderGuide(guideInput, guideCommands(guideInput)));
    say('\nPress Ctrl-C to stop the sandbox.');
    return;
  }

  const operatorStart = performance.now();
  const operator = await startOperatorProcess({
    zmsUrl: athenz.server.url,
    certFile: athenz.operatorCert.certPath,
    keyFile: athenz.operatorCert.keyPath,
    caFile: athenz.caPath,
    kubeconfigPath: files.kubeconfig,
    namespace: OPERATOR_NAMESPACE,
    logPath: files.operatorLog,
    args: ['--pod-name', 'sandbox'],
    onLine: echoOperatorLine,
  });
  running.operator = operator;
  void operator.exited.then((code) => {
    if (!stopping) {
      process.stderr.write(
        `\nthe operator exited unexpectedly (${code}); last log lines:\n${operator.logTail()}\n`,
      );
      void shutdown(1);
    }
  });
  say(`Operator started (pid ${operator.pid}), logs in ${operator.logPath}`);

  await waitForFirstReady(cluster, operator);
  const readyAt = performance.now();
  say(
    `First AthenzRoleMapping Ready (${FIRST_MAPPING}: ${FIRST_MAPPING_NAMESPACES} namespaces synced) ` +
      `${elapsed()} after start (${elapsed(operatorStart)} after the operator started)`,
  );
  const guide = guideCommands(guideInput);
  guideInput.operator = {
    logPath: operator.logPath,
    metricsUrl: operator.metricsUrl,
    healthUrl: operator.healthUrl,
    pid: operator.pid,
  };
  say('');
  say((await runGuideCommand(guide, guide.getMappings)).trimEnd());
  say('');
  say(renderGuide(guideInput, guide));
  say('');

  if (args.smoke) {
    await smoke(cluster, guide, operator, readyAt, guideInput.temporaryUntil.toISOString());
    await shutdown(0);
  }
  say('Press Ctrl-C to stop the sandbox.');
}

async function setUpAthenz({ admin }: ZmsSetup): Promise<void> {
  await bootstrapAthenz(admin, [PARENT]);
  // For samples/subjects-options.yaml: an existing domain whose role names a group, a user and
  // a service, so the RoleBinding shows the expansion, the prefix and the skipped service.
  await admin.putGroup(PARENT, 'platform-oncall', ['user.alice', 'user.bob']);
  await admin.ensureDomain(`${PARENT}.platform`, [ATHENZ_ADMIN, OPERATOR_PRINCIPAL]);
  const role = await admin.call(
    'GET',
    `/domain/${PARENT}.platform/role/k8s_ns_editors`,
    undefined,
    [200, 404],
  );
  if (!role) {
    await admin.putRole(`${PARENT}.platform`, 'k8s_ns_editors', [
      `${PARENT}:group.platform-oncall`,
      'user.carol',
      'athenz.k8s.ci',
    ]);
  }
}

async function setUpCluster(cp: ControlPlane): Promise<void> {
  const cluster = new Cluster(cp.kubeConfig);
  await cluster.createNamespace(OPERATOR_NAMESPACE);
  await kubectl(cp.assetsDir, files.kubeconfig, ['apply', '-f', join(REPO_ROOT, 'samples/')]);
  await Promise.all(
    Object.entries(DEMO_NAMESPACES).map(([name, labels]) => cluster.createNamespace(name, labels)),
  );
}

async function waitForFirstReady(cluster: Cluster, operator: OperatorProcess): Promise<void> {
  let exited: number | string | undefined;
  void operator.exited.then((code) => {
    exited = code;
  });
  const expected = FIRST_MAPPING_NAMESPACES;
  let seen: unknown;
  try {
    await waitFor(
      `mapping ${FIRST_MAPPING} to be Ready with ${expected} namespaces synced`,
      async () => {
        if (exited !== undefined) throw new WaitAborted(`the operator exited (${exited})`);
        const m = await cluster.getMapping(FIRST_MAPPING);
        const ready = m?.status?.conditions?.find((c) => c.type === 'Ready');
        seen = m?.status ?? 'no status yet';
        return ready?.status === 'True' && m?.status?.namespaces?.synced === expected;
      },
      { timeoutMs: readyTimeoutMs, intervalMs: 100, observed: () => seen },
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}\n--- operator log:\n${operator.logTail()}`);
  }
}

const execFileAsync = promisify(execFile);

/** Runs one of the guide's commands exactly as printed, after the guide's `export` lines. */
async function runGuideCommand(guide: Guide, command: string): Promise<string> {
  try {
    const { stdout } = await execFileAsync('bash', ['-c', [...guide.exports, command].join('\n')], {
      timeout: 30_000,
    });
    return stdout;
  } catch (err) {
    const e = err as Error & { stdout?: string; stderr?: string };
    throw new Error(`guide command failed: ${command}\n${e.stdout ?? ''}${e.stderr ?? e.message}`);
  }
}

/** The demo RoleBinding's subjects: the one binding DEMO_ROLE in DEMO_NAMESPACE. */
async function demoSubjects(cluster: Cluster): Promise<string[] | undefined> {
  const list = await cluster.rbac.listNamespacedRoleBinding({ namespace: DEMO_NAMESPACE });
  const binding = list.items.find(
    (rb: k8s.V1RoleBinding) => rb.metadata?.annotations?.['rbac.athenz.io/athenz-role'] === DEMO_ROLE,
  );
  return binding ? (binding.subjects ?? []).map((s) => s.name) : undefined;
}

async function smoke(
  cluster: Cluster,
  guide: Guide,
  operator: OperatorProcess,
  readyAt: number,
  /** How ZMS shows the guide's temporary membership's end (milliseconds included). */
  guideExpiration: string,
) {
  say('Smoke test: running the guide...');
  const step = async (command: string) => {
    say(`$ ${command}`);
    const out = await runGuideCommand(guide, command);
    if (out.trim()) say(out.trimEnd());
    return out;
  };
  const waitSubject = async (present: boolean) => {
    const from = performance.now();
    let seen: string[] | undefined;
    await waitFor(
      `${DEMO_MEMBER} to be ${present ? 'added to' : 'removed from'} the ${DEMO_ROLE} RoleBinding in ${DEMO_NAMESPACE}`,
      async () => {
        seen = await demoSubjects(cluster);
        return seen !== undefined && seen.includes(DEMO_MEMBER) === present;
      },
      { timeoutMs: 60_000, intervalMs: 50, observed: () => seen ?? 'no RoleBinding' },
    );
    return performance.now() - from;
  };

  await step(guide.getMappings);
  // The Athenz way first, then the same through the REST API: every printed command runs.
  const timings: string[] = [];
  for (const [how, commands] of [
    ['zms-cli', guide.zmsCli],
    ['curl', guide.curl],
  ] as const) {
    await step(commands.addMember);
    const addMs = await waitSubject(true);
    const shown = await step(guide.getBindings);
    if (!shown.includes(DEMO_MEMBER)) throw new Error(`"${guide.getBindings}" does not show ${DEMO_MEMBER}`);
    await step(commands.removeMember);
    const removeMs = await waitSubject(false);
    const after = await step(guide.getBindings);
    if (after.includes(DEMO_MEMBER)) throw new Error(`"${guide.getBindings}" still shows ${DEMO_MEMBER}`);
    await step(commands.addTemporaryMember);
    await waitSubject(true);
    const role = await step(commands.showRole);
    if (!role.includes(guideExpiration))
      throw new Error(`"${commands.showRole}" shows no expiration ${guideExpiration}`);
    await step(commands.removeMember);
    await waitSubject(false);
    timings.push(
      `${how}: member added -> RoleBinding ${(addMs / 1000).toFixed(2)} s; removed -> RoleBinding ${(removeMs / 1000).toFixed(2)} s`,
    );
  }
  await waitFor(
    `the operator log to record adding and removing ${DEMO_MEMBER}`,
    () => {
      const audit = readFileSync(operator.logPath, 'utf8')
        .split('\n')
        .filter((l) => l.includes('"access changed"') && l.includes(DEMO_MEMBER));
      return audit.some((l) => l.includes('"add"')) && audit.some((l) => l.includes('"remove"'));
    },
    { timeoutMs: 10_000 },
  );
  say(
    `smoke test passed: first mapping Ready ${((readyAt - startedAt) / 1000).toFixed(1)} s after start; ` +
      `${timings.join('; ')}; total ${elapsed()}`,
  );
}

/** Echoes the operator's audit lines and warnings to the terminal; everything is in the log file. */
function echoOperatorLine(line: string): void {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line);
  } catch {
    say(`[operator] ${line}`);
    return;
  }
  if (entry.message === 'access changed') {
    say(
      `[operator] ${entry.action} ${entry.principal} ${entry.action === 'add' ? 'to' : 'from'} ${entry.namespace}/${entry.roleBinding} (${entry.reason})`,
    );
  } else if (entry.level === 'warn' || entry.level === 'error') {
    const { level, message, timestamp: _t, ...rest } = entry;
    say(`[operator] ${level}: ${message} ${JSON.stringify(rest)}`);
  }
}

main().catch((err: unknown) => {
  if (stopping) return;
  process.stderr.write(`sandbox failed: ${err instanceof Error ? err.message : String(err)}\n`);
  void shutdown(1);
});
