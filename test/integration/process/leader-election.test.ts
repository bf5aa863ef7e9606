import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import {
  type ManagedProcess,
  makeWorkdir,
  removeWorkdir,
  spawnManaged,
} from '../../support/control-plane/processes.ts';
import {
  ATHENZ_ADMIN,
  type Harness,
  OPERATOR_PRINCIPAL,
  startHarness,
} from '../../support/operator-harness.ts';
import { freePort } from '../../support/ports.ts';
import { waitFor } from '../../support/wait.ts';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const PARENT = 'eks.ha';
const LEASE = { namespace: 'athenz-rbac-system', name: 'athenz-rbac-operator' };
let h: Harness;
let workdir: string;
let coordination: k8s.CoordinationV1Api;

interface OperatorProcess {
  name: string;
  process: ManagedProcess;
  healthUrl: string;
  logs(): Array<Record<string, unknown>>;
}
const processes: OperatorProcess[] = [];

/** Starts `node src/main.ts` as a separate process, as a Deployment's pod would run it. */
async function startOperatorProcess(name: string): Promise<OperatorProcess> {
  const port = await freePort();
  const args = [
    '--disable-warning=ExperimentalWarning',
    join(REPO, 'src/main.ts'),
    `--zms-url=${h.zms.url}`,
    `--zms-cert=${h.operatorCert.certPath}`,
    `--zms-key=${h.operatorCert.keyPath}`,
    `--zms-ca=${h.zms.pki.caPath}`,
    `--namespace=${LEASE.namespace}`,
    `--pod-name=${name}`,
    '--leader-elect=true',
    '--lease-duration=3s',
    '--renew-deadline=2s',
    '--retry-period=500ms',
    `--health-addr=127.0.0.1:${port}`,
    `--metrics-addr=127.0.0.1:${port}`,
    '--log-level=debug',
  ];
  const process = spawnManaged(name, globalThis.process.execPath, args, workdir, {
    ...globalThis.process.env,
    KUBECONFIG: h.plane.kubeconfigPath,
  });
  const op: OperatorProcess = {
    name,
    process,
    healthUrl: `http://127.0.0.1:${port}`,
    logs: () =>
      readFileSync(process.logPath, 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l)),
  };
  processes.push(op);
  return op;
}

async function holder(): Promise<string | undefined> {
  try {
    return (await coordination.readNamespacedLease(LEASE)).spec?.holderIdentity || undefined;
  } catch {
    return undefined;
  }
}

async function get(url: string): Promise<{ status: number; body: string }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.text() };
}

beforeAll(async () => {
  h = await startHarness();
  workdir = makeWorkdir('leader');
  coordination = h.plane.kubeConfig.makeApiClient(k8s.CoordinationV1Api);
  await h.ensureParentDomain(PARENT);
  await h.admin.ensureDomain(`${PARENT}.ha`, [ATHENZ_ADMIN, OPERATOR_PRINCIPAL]);
  await h.admin.putRole(`${PARENT}.ha`, 'viewers', ['user.first']);
  await h.cluster.createMapping('ha', {
    parentDomain: PARENT,
    namespaceSelector: { matchLabels: { 'test/mapping': 'ha' } },
    roles: [{ athenzRole: 'viewers', clusterRole: 'view' }],
    syncInterval: '2s',
  });
  await h.cluster.createNamespace('ha', { 'test/mapping': 'ha' });
}, 60_000);

afterAll(async () => {
  for (const p of processes) await p.process.kill();
  removeWorkdir(workdir);
  await h?.stop();
});

describe('two operator processes with leader election', () => {
  let leader: OperatorProcess;
  let standby: OperatorProcess;

  it('elect exactly one leader; both are healthy and ready, only the leader reconciles', async () => {
    const a = await startOperatorProcess('op-a');
    const b = await startOperatorProcess('op-b');
    const name = await waitFor('a Lease holder', holder, { timeoutMs: 20_000 });
    [leader, standby] = name === 'op-a' ? [a, b] : [b, a];
    await h.cluster.waitForSubjects('ha', 'athenz.viewers.view', ['user.first'], 20_000);
    for (const p of [a, b]) {
      await waitFor(`${p.name} ready`, async () => (await get(`${p.healthUrl}/readyz`)).status === 200, {
        timeoutMs: 20_000,
      });
      expect((await get(`${p.healthUrl}/healthz`)).status).toBe(200);
      // The start-up line says which version runs.
      expect(p.logs()).toContainEqual(
        expect.objectContaining({ message: 'starting', version: expect.any(String) }),
      );
    }
    expect((await get(`${standby.healthUrl}/readyz`)).body).toMatch(/standby/);
    const leaderMetrics = (await get(`${leader.healthUrl}/metrics`)).body;
    expect(leaderMetrics).toMatch(/leader_election_master_status\{name="athenz-rbac-operator"\} 1/);
    expect(leaderMetrics).toMatch(
      /controller_runtime_reconcile_total\{controller="athenzrolemapping",result="success"\} [1-9]/,
    );
    expect((await get(`${standby.healthUrl}/metrics`)).body).not.toMatch(
      /controller_runtime_reconcile_total\{/,
    );
  }, 60_000);

  it('after kill -9 of the leader, the standby takes over and applies the next change once', async () => {
    const killedAt = Date.now();
    await leader.process.kill();
    await h.admin.addMember(`${PARENT}.ha`, 'viewers', 'user.second');
    await waitFor('the standby to hold the Lease', async () => (await holder()) === standby.name, {
      timeoutMs: 20_000,
    });
    const tookOver = Date.now() - killedAt;
    await h.cluster.waitForSubjects('ha', 'athenz.viewers.view', ['user.first', 'user.second'], 20_000);
    const applied = Date.now() - killedAt;
    // How long this takes is a benchmark figure, not an assertion: it depends on the machine's load.
    process.stdout.write(`failover: lease taken after ${tookOver} ms, change applied after ${applied} ms\n`);
    // The audit line is written just after the binding is applied: wait for it, then count.
    const added = (e: Record<string, unknown>) =>
      e.message === 'access changed' && e.principal === 'user.second' && e.action === 'add';
    await waitFor('the audit line of the addition', () => standby.logs().some(added));
    const additions = [...leader.logs(), ...standby.logs()].filter(added);
    expect(additions).toHaveLength(1);
    // The process's own logger tags every line of a reconcile with the mapping and a reconcile id.
    expect(additions[0]).toMatchObject({ mapping: 'ha', reconcileID: expect.any(String), namespace: 'ha' });
  }, 60_000);

  it('on SIGTERM the leader finishes, releases the Lease at once and exits 0', async () => {
    const next = await startOperatorProcess('op-c');
    await waitFor(
      'op-c ready as standby',
      async () => (await get(`${next.healthUrl}/readyz`)).status === 200,
      { timeoutMs: 20_000 },
    );
    const stoppedAt = Date.now();
    await standby.process.stop(10_000);
    expect(await standby.process.exited).toBe(0);
    // Released, not left to expire: once the process is gone, the Lease no longer names it.
    expect(await holder()).not.toBe(standby.name);
    // Logs are flushed before the process exits: the last line is there.
    expect(standby.logs()).toContainEqual(expect.objectContaining({ message: 'released leader lease' }));
    expect(standby.logs().at(-1)).toMatchObject({ message: 'stopped' });
    await waitFor('op-c to hold the Lease', async () => (await holder()) === 'op-c', { timeoutMs: 10_000 });
    const handover = Date.now() - stoppedAt;
    process.stdout.write(`graceful handover: ${handover} ms\n`);
    await h.admin.addMember(`${PARENT}.ha`, 'viewers', 'user.third');
    await h.cluster.waitForSubjects(
      'ha',
      'athenz.viewers.view',
      ['user.first', 'user.second', 'user.third'],
      20_000,
    );
  }, 60_000);
});
