/**
 * `make bench`: what the operator costs and how fast it reacts, on a local control plane and the
 * ZMS test server (both in this process), with the operator as its own process
 * (`node src/main.ts`), as in production. Prints a JSON summary and a markdown table, and
 * writes the JSON to .cache/bench/results.json.
 *
 *   node hack/bench.ts [--namespaces 100] [--samples 12] [--idle-intervals 5] [--no-restart] [--compiled]
 *
 * --compiled runs the operator as the image does (tsc output, `node --enable-source-maps
 * dist/main.js`) instead of from source with Node's type stripping.
 *
 * 1. time from namespace creation to the mapping Ready, for 1 and for N namespaces (mapping
 *    first), and from mapping creation to Ready over N existing namespaces (the reverse);
 * 2. ZMS requests per idle interval at N namespaces (syncInterval 2s; the server's counters);
 * 3. Kubernetes writes per idle interval (resourceVersions of every managed RoleBinding and
 *    mapping, Events created, and the API server's own write-request counters);
 * 4. latency from an Athenz membership change to the RoleBinding update;
 * 5. the operator's resident memory (VmRSS, VmHWM) at each stage;
 * and a restart at N namespaces (time to /readyz). Every wait has a deadline; idle windows are
 * timed waits by design.
 */

import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pLimit from 'p-limit';
import { roleBindingName } from '../src/core/names.ts';
import { Cluster, installCrd, type MappingBody } from '../test/support/cluster-fixtures.ts';
import { type ControlPlane, startControlPlane } from '../test/support/control-plane/control-plane.ts';
import { waitFor } from '../test/support/wait.ts';
import { makeWorkdir } from '../test/support/workdir.ts';
import { kubeSnapshot, kubeWrites, percentile, promSum, seconds, zmsRequests } from './bench/measure.ts';
import {
  httpGet,
  type OperatorProcess,
  REPO_ROOT,
  startOperatorProcess,
} from './sandbox/operator-process.ts';
import {
  ATHENZ_ADMIN,
  bootstrapAthenz,
  OPERATOR_NAMESPACE,
  startZms,
  type ZmsSetup,
} from './sandbox/servers.ts';

const { values: args } = parseArgs({
  options: {
    namespaces: { type: 'string', default: '100' },
    samples: { type: 'string', default: '12' },
    'idle-intervals': { type: 'string', default: '5' },
    'no-restart': { type: 'boolean', default: false },
    compiled: { type: 'boolean', default: false },
  },
});
const N = Number(args.namespaces);
const SAMPLES = Number(args.samples);
const IDLE_INTERVALS = Number(args['idle-intervals']);
if (![N, SAMPLES, IDLE_INTERVALS].every((n) => Number.isInteger(n) && n > 0 && n <= 1000)) {
  process.stderr.write(
    '--namespaces, --samples (changes: adds and removes) and --idle-intervals must be whole numbers from 1 to 1000\n',
  );
  process.exit(2);
}

const PARENT = 'bench';
const INTERVAL_MS = 2_000;
const ROLES = [
  { athenzRole: 'k8s_ns_admins', clusterRole: 'admin' },
  { athenzRole: 'k8s_ns_viewers', clusterRole: 'view' },
];
const VIEWERS_BINDING = roleBindingName('k8s_ns_viewers', 'view');
const outDir = join(REPO_ROOT, '.cache/bench');
const log = (line: string) => process.stderr.write(`${line}\n`);
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const mappingSpec = (group: string, roles = ROLES): MappingBody => ({
  parentDomain: PARENT,
  namespaceSelector: { matchLabels: { 'bench/group': group } },
  roles,
  domain: { adminUsers: [ATHENZ_ADMIN] },
  syncInterval: `${INTERVAL_MS / 1000}s`,
});

let plane: ControlPlane | undefined;
let zms: ZmsSetup | undefined;
let operator: OperatorProcess | undefined;
const certDir = makeWorkdir('bench-certs');

async function cleanup() {
  await operator?.stop(10_000).catch(() => undefined);
  await zms?.admin.close().catch(() => undefined);
  await zms?.server.stop().catch(() => undefined);
  await plane?.stop().catch(() => undefined);
  rmSync(certDir, { recursive: true, force: true });
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: stopping`);
    void cleanup().then(() => process.exit(130));
  });
}

/** Waits until the mapping is Ready with `synced` namespaces synced; returns when that was seen. */
async function waitSynced(
  cluster: Cluster,
  name: string,
  synced: number,
  timeoutMs: number,
): Promise<number> {
  let seen: unknown;
  await waitFor(
    `mapping ${name} Ready with ${synced} namespaces synced`,
    async () => {
      const m = await cluster.getMapping(name);
      const ready = m?.status?.conditions?.find((c) => c.type === 'Ready');
      seen = m?.status?.namespacesSynced ?? m?.status;
      return (
        ready?.status === 'True' &&
        m?.status?.namespaces?.synced === synced &&
        m.status.namespaces.selected === synced &&
        m.status.observedGeneration === m.metadata.generation
      );
    },
    { timeoutMs, intervalMs: 50, observed: () => seen },
  );
  return performance.now();
}

/** VmRSS and VmHWM from /proc, and the V8 heap in use from the operator's own /metrics. */
async function memory(): Promise<{ rssMiB: number; peakRssMiB: number; heapUsedMiB: number } | undefined> {
  const m = operator?.memory();
  if (!m || !operator) return undefined;
  const heap = promSum(await httpGet(operator.metricsUrl), 'nodejs_heap_size_used_bytes');
  const mib = (kib: number) => Math.round(kib / 102.4) / 10;
  return { rssMiB: mib(m.rssKiB), peakRssMiB: mib(m.hwmKiB), heapUsedMiB: mib(heap / 1024) };
}

async function startOperator(logName = 'operator.log'): Promise<OperatorProcess> {
  const p = await startOperatorProcess({
    zmsUrl: zms!.server.url,
    certFile: zms!.operatorCert.certPath,
    keyFile: zms!.operatorCert.keyPath,
    caFile: zms!.caPath,
    kubeconfigPath: plane!.kubeconfigPath,
    namespace: OPERATOR_NAMESPACE,
    logPath: join(outDir, logName),
    args: ['--pod-name', 'bench'],
    ...(entry ? { entry } : {}),
  });
  operator = p;
  return p;
}

let entry: string[] | undefined;

async function main() {
  const t0 = performance.now();
  if (args.compiled) {
    const outDirDist = join(outDir, 'dist');
    log(`compiling src/ to ${outDirDist}...`);
    execFileSync(
      process.execPath,
      [
        join(REPO_ROOT, 'node_modules/typescript/bin/tsc'),
        '-p',
        'tsconfig.build.json',
        '--outDir',
        outDirDist,
      ],
      { cwd: REPO_ROOT, stdio: 'inherit' },
    );
    entry = ['--enable-source-maps', join(outDirDist, 'main.js')];
  }
  const loadAtStart = loadavg().map((l) => Math.round(l * 100) / 100);
  mkdirSync(outDir, { recursive: true });
  log('starting a control plane and the ZMS test server...');
  [plane, zms] = await Promise.all([
    startControlPlane({ beforeControllers: installCrd }),
    startZms({
      preferredPort: 0,
      certDir,
      // N subdomains under one top-level domain would hit the default quota of 100.
      quotas: { subdomainsPerTopLevelDomain: Math.max(1000, 2 * N + 10) },
    }),
  ]);
  const cluster = new Cluster(plane.kubeConfig);
  await bootstrapAthenz(zms.admin, [PARENT]);
  await cluster.createNamespace(OPERATOR_NAMESPACE);
  const counters = () => zms!.server.counters.snapshot();
  const snapshot = () => kubeSnapshot(cluster, plane!.assetsDir, plane!.kubeconfigPath);

  await startOperator();
  await operator!.waitReady(60_000);
  const memoryEmpty = await memory();
  log(`operator ready (pid ${operator!.pid}); ${JSON.stringify(memoryEmpty)}`);

  // 1a. One namespace: mapping first, then the namespace.
  await cluster.createMapping('bench-one', mappingSpec('one'));
  await waitSynced(cluster, 'bench-one', 0, 30_000);
  let start = performance.now();
  await cluster.createNamespace('one-000', { 'bench/group': 'one' });
  const oneReadyMs = (await waitSynced(cluster, 'bench-one', 1, 30_000)) - start;
  log(`1 namespace: Ready after ${seconds(oneReadyMs)} s`);

  // The sample scenario: a member added and removed in that namespace.
  await zms.admin.addMember(`${PARENT}.one-000`, 'k8s_ns_viewers', 'user.sample');
  await cluster.waitForSubjects('one-000', VIEWERS_BINDING, ['user.sample'], 30_000);
  await zms.admin.removeMember(`${PARENT}.one-000`, 'k8s_ns_viewers', 'user.sample');
  await cluster.waitForSubjects('one-000', VIEWERS_BINDING, [], 30_000);
  const memorySample = await memory();
  log(`after the sample scenario: ${JSON.stringify(memorySample)}`);

  // 1b. N namespaces: mapping first, then the namespaces.
  await cluster.createMapping('bench-many', mappingSpec('many'));
  await waitSynced(cluster, 'bench-many', 0, 30_000);
  const names = Array.from({ length: N }, (_, i) => `many-${String(i).padStart(3, '0')}`);
  const zmsBeforeMany = counters();
  const kubeBeforeMany = await snapshot();
  start = performance.now();
  const limit = pLimit(10);
  await Promise.all(
    names.map((name) => limit(() => cluster.createNamespace(name, { 'bench/group': 'many' }))),
  );
  const createdMs = performance.now() - start;
  const manyReadyMs = (await waitSynced(cluster, 'bench-many', N, 240_000)) - start;
  const manyZms = zmsRequests(zmsBeforeMany, counters());
  const manyKube = kubeWrites(kubeBeforeMany, await snapshot());
  log(`${N} namespaces: created in ${seconds(createdMs)} s, Ready after ${seconds(manyReadyMs)} s`);

  // 2 + 3. Idle: let the last status writes and polls settle, then count over whole intervals.
  await pause(2 * INTERVAL_MS);
  const metricsBefore = await httpGet(operator!.metricsUrl);
  const zmsBeforeIdle = counters();
  const kubeBeforeIdle = await snapshot();
  const idleStart = performance.now();
  await pause(IDLE_INTERVALS * INTERVAL_MS);
  const idleMs = performance.now() - idleStart;
  const zmsIdle = zmsRequests(zmsBeforeIdle, counters());
  const kubeIdle = kubeWrites(kubeBeforeIdle, await snapshot());
  const metricsAfter = await httpGet(operator!.metricsUrl);
  const operatorZmsIdle =
    promSum(metricsAfter, 'athenz_zms_requests_total') - promSum(metricsBefore, 'athenz_zms_requests_total');
  const reconcilesIdle =
    promSum(metricsAfter, 'controller_runtime_reconcile_total') -
    promSum(metricsBefore, 'controller_runtime_reconcile_total');
  const memoryIdle = await memory();
  log(`idle ${seconds(idleMs)} s: ZMS ${JSON.stringify(zmsIdle)}, k8s ${JSON.stringify(kubeIdle)}`);

  // 4. Membership change → RoleBinding. Each change starts after a pause of its own length, so
  // the changes land at different phases of the 2 s poll interval, and after the status write
  // (and the immediate poll it triggers, see docs/benchmark.md) of the previous change.
  const latencies: Array<{ action: 'add' | 'remove'; namespace: string; ms: number }> = [];
  const zmsBeforeLatency = counters();
  const latencyStart = performance.now();
  for (let i = 0; i < SAMPLES; i++) {
    const action = i % 2 === 0 ? 'add' : 'remove';
    const pair = Math.floor(i / 2);
    const namespace = names[(pair * 37) % N]!;
    const member = `user.latency${pair}`;
    await pause(300 + ((i * 613) % INTERVAL_MS));
    if (action === 'add') await zms.admin.addMember(`${PARENT}.${namespace}`, 'k8s_ns_viewers', member);
    else await zms.admin.removeMember(`${PARENT}.${namespace}`, 'k8s_ns_viewers', member);
    const from = performance.now();
    await waitFor(
      `${member} ${action === 'add' ? 'in' : 'out of'} ${namespace}/${VIEWERS_BINDING}`,
      async () => {
        const subjects = await cluster.subjectsOf(namespace, VIEWERS_BINDING);
        return subjects !== undefined && subjects.includes(member) === (action === 'add');
      },
      { timeoutMs: 20_000, intervalMs: 20 },
    );
    latencies.push({ action, namespace, ms: performance.now() - from });
  }
  const latencyPhaseMs = performance.now() - latencyStart;
  const latencyPolls = zmsRequests(zmsBeforeLatency, counters()).byRoute['GET /sys/modified_domains'] ?? 0;
  const latencyMs = latencies.map((l) => l.ms);
  log(`change latency: ${latencyMs.map((ms) => seconds(ms)).join(', ')} s`);
  const memoryAfterLatency = await memory();

  // 1c. The reverse: a new mapping over N existing namespaces (domains exist; one new role each).
  const zmsBeforeRev = counters();
  start = performance.now();
  await cluster.createMapping(
    'bench-reverse',
    mappingSpec('many', [{ athenzRole: 'k8s_ns_editors', clusterRole: 'edit' }]),
  );
  const reverseReadyMs = (await waitSynced(cluster, 'bench-reverse', N, 240_000)) - start;
  const reverseZms = zmsRequests(zmsBeforeRev, counters());
  const memoryReverse = await memory();
  log(`mapping over ${N} existing namespaces: Ready after ${seconds(reverseReadyMs)} s`);

  // Restart at N namespaces: graceful stop, then a new process until /readyz (first full pass).
  let restart: { stopMs: number; readyMs: number; zmsRequests: number; memory: unknown } | undefined;
  if (!args['no-restart']) {
    start = performance.now();
    await operator!.stop(20_000);
    const stopMs = performance.now() - start;
    const zmsBeforeRestart = counters();
    start = performance.now();
    await startOperator('operator-restarted.log');
    await operator!.waitReady(120_000);
    const readyMs = performance.now() - start;
    restart = {
      stopMs: Math.round(stopMs),
      readyMs: Math.round(readyMs),
      zmsRequests: zmsRequests(zmsBeforeRestart, counters()).total,
      memory: await memory(),
    };
    log(`restart: stopped in ${seconds(stopMs)} s, ready in ${seconds(readyMs)} s`);
  }

  const cpu = cpus();
  const summary = {
    machine: {
      cpus: cpu.length,
      cpuModel: cpu[0]?.model ?? 'unknown',
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      node: process.version,
      loadAverageAtStart: loadAtStart,
      loadAverageAtEnd: loadavg().map((l) => Math.round(l * 100) / 100),
    },
    settings: {
      namespaces: N,
      rolesPerMapping: ROLES.length,
      syncInterval: '2s',
      idleIntervals: IDLE_INTERVALS,
    },
    timeToReadyMs: {
      oneNamespace: Math.round(oneReadyMs),
      manyNamespaces: Math.round(manyReadyMs),
      manyNamespacesCreatedMs: Math.round(createdMs),
      mappingOverExistingNamespaces: Math.round(reverseReadyMs),
    },
    initialSync: { zmsRequests: manyZms, kubeWrites: manyKube, reverseZmsRequests: reverseZms.total },
    idle: {
      windowMs: Math.round(idleMs),
      intervals: IDLE_INTERVALS,
      zmsRequests: zmsIdle,
      zmsRequestsPerInterval: zmsIdle.total / IDLE_INTERVALS,
      operatorCountedZmsRequests: operatorZmsIdle,
      reconciles: reconcilesIdle,
      kubeWrites: kubeIdle,
      kubeWritesPerInterval:
        (kubeIdle.roleBindingsChanged + kubeIdle.mappingsChanged + kubeIdle.eventsCreated) / IDLE_INTERVALS,
      apiserverWriteRequestsPerInterval: kubeIdle.apiserverWriteRequestsTotal / IDLE_INTERVALS,
    },
    changeLatencyMs: {
      samples: latencies.map((l) => ({ ...l, ms: Math.round(l.ms) })),
      p50: Math.round(percentile(latencyMs, 50)),
      p90: Math.round(percentile(latencyMs, 90)),
      max: Math.round(Math.max(...latencyMs)),
      // Polls during the sampling phase, against the phase's length in intervals: each status
      // write after a change triggers one more poll at once (Operator#onMapping → pollSoon).
      phaseMs: Math.round(latencyPhaseMs),
      changePolls: latencyPolls,
      intervalsInPhase: Math.round((10 * latencyPhaseMs) / INTERVAL_MS) / 10,
    },
    memory: {
      empty: memoryEmpty,
      afterSampleScenario: memorySample,
      atManyNamespacesIdle: memoryIdle,
      afterLatencySamples: memoryAfterLatency,
      afterReverseMapping: memoryReverse,
    },
    restart,
    totalMs: Math.round(performance.now() - t0),
  };
  writeFileSync(
    join(outDir, args.compiled ? 'results-compiled.json' : 'results.json'),
    `${JSON.stringify(summary, null, 2)}\n`,
  );
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\n\n${table(summary)}\n`);
}

function table(s: {
  timeToReadyMs: Record<string, number>;
  idle: {
    zmsRequestsPerInterval: number;
    kubeWritesPerInterval: number;
    apiserverWriteRequestsPerInterval: number;
    intervals: number;
  };
  changeLatencyMs: { p50: number; p90: number; max: number; samples: unknown[] };
  memory: Record<string, { rssMiB: number; peakRssMiB: number; heapUsedMiB: number } | undefined>;
  restart?: { readyMs: number } | undefined;
}): string {
  const sec = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  const mib = (m: { rssMiB: number; heapUsedMiB: number } | undefined) =>
    m ? `${m.rssMiB} MiB (V8 heap in use ${m.heapUsedMiB} MiB)` : 'n/a';
  const rows: Array<[string, string]> = [
    ['Namespace created → mapping Ready (1 namespace)', sec(s.timeToReadyMs.oneNamespace!)],
    [`${N} namespaces created → mapping Ready (${N}/${N})`, sec(s.timeToReadyMs.manyNamespaces!)],
    [
      `New mapping over ${N} existing namespaces → Ready`,
      sec(s.timeToReadyMs.mappingOverExistingNamespaces!),
    ],
    [
      `ZMS requests per idle interval (${N} ns, syncInterval 2s, ${s.idle.intervals} intervals)`,
      String(s.idle.zmsRequestsPerInterval),
    ],
    ['Kubernetes objects written per idle interval', String(s.idle.kubeWritesPerInterval)],
    [
      'Kubernetes write requests per idle interval (apiserver counters)',
      String(s.idle.apiserverWriteRequestsPerInterval),
    ],
    [
      `Athenz change → RoleBinding (${s.changeLatencyMs.samples.length} samples) p50 / p90 / max`,
      `${sec(s.changeLatencyMs.p50)} / ${sec(s.changeLatencyMs.p90)} / ${sec(s.changeLatencyMs.max)}`,
    ],
    ['Operator RSS, no mapping', mib(s.memory.empty)],
    ['Operator RSS after the sample scenario (1 ns)', mib(s.memory.afterSampleScenario)],
    [`Operator RSS at ${N} namespaces, idle`, mib(s.memory.atManyNamespacesIdle)],
    [`Operator RSS at ${N} namespaces, 3 mappings`, mib(s.memory.afterReverseMapping)],
  ];
  if (s.restart) rows.push([`Restart at ${N} namespaces → /readyz`, sec(s.restart.readyMs)]);
  return ['| Measure | Result |', '|---|---|', ...rows.map(([a, b]) => `| ${a} | ${b} |`)].join('\n');
}

try {
  await main();
  await cleanup();
  process.exit(0);
} catch (err) {
  log(`bench failed: ${err instanceof Error ? err.message : String(err)}`);
  if (operator) log(`--- operator log tail:\n${operator.logTail(30)}`);
  await cleanup();
  process.exit(1);
}
