import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, expect, it } from '@jest/globals';
import { makeWorkdir } from '../../support/workdir.ts';
import { createDomain, ZmsTestClient } from './zms-client.ts';

const CLI = join(import.meta.dirname, '../../support/zms-server/cli.ts');

interface CliSummary {
  url: string;
  adminUrl: string;
  caPath: string;
  curl: string;
  principals: Record<string, { certPath: string; keyPath: string }>;
}

/** Starts the CLI with `--json` and returns the process and the summary line it prints. */
async function startCli(args: string[]): Promise<{ child: ChildProcess; summary: CliSummary }> {
  const child = spawn(process.execPath, [CLI, '--port', '0', '--json', ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  const [first] = (await Promise.race([
    once(lines, 'line'),
    once(child, 'exit').then(([code]) => Promise.reject(new Error(`cli exited with ${code}`))),
  ])) as [string];
  return { child, summary: JSON.parse(first) };
}

async function stopCli(child: ChildProcess): Promise<number | null> {
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const [code] = await exited;
  return code as number | null;
}

function clientFor(summary: CliSummary, principal: string): ZmsTestClient {
  const { certPath, keyPath } = summary.principals[principal]!;
  return new ZmsTestClient(summary.url, readFileSync(summary.caPath, 'utf8'), {
    principal,
    certPem: readFileSync(certPath, 'utf8'),
    keyPem: readFileSync(keyPath, 'utf8'),
    certPath,
    keyPath,
  });
}

describe('ZMS test server: standalone CLI', () => {
  it('prints URL, CA, client certificates and a curl example; serves ZMS; stops cleanly on SIGTERM', async () => {
    const stateDir = makeWorkdir('zms-cli');
    const { child, summary } = await startCli([
      '--state-dir',
      stateDir,
      '--admin',
      'user.athenz_admin',
      '--principal',
      'athenz.k8s.operator',
    ]);
    const admin = clientFor(summary, 'user.athenz_admin');
    const operator = clientFor(summary, 'athenz.k8s.operator');
    try {
      expect(summary.curl).toContain(`--cacert ${summary.caPath}`);
      expect(summary.curl).toContain(`${summary.url}/domain/sys.auth`);
      expect((await admin.get('/domain/sys.auth')).status).toBe(200);
      await createDomain(admin, 'fromcli');
      const asOperator = await operator.get('/status');
      expect(asOperator.status).toBe(200);
      expect((await operator.post('/domain', { name: 'nope', adminUsers: ['user.x'] })).status).toBe(403);
      const info = (await (await fetch(`${summary.adminUrl}/admin/info`)).json()) as { url: string };
      expect(info.url).toBe(summary.url);
    } finally {
      await admin.close();
      await operator.close();
      expect(await stopCli(child)).toBe(0);
    }

    // A second run on the same folders reuses the certificates and the state.
    const caBefore = readFileSync(summary.caPath, 'utf8');
    const second = await startCli(['--state-dir', stateDir]);
    const again = clientFor(second.summary, 'user.athenz_admin');
    try {
      expect(readFileSync(second.summary.caPath, 'utf8')).toBe(caBefore);
      expect((await again.get('/domain/fromcli')).status).toBe(200);
    } finally {
      await again.close();
      expect(await stopCli(second.child)).toBe(0);
    }
  });
});
