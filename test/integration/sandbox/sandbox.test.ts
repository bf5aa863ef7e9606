import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from '@jest/globals';
import { makeWorkdir } from '../../support/workdir.ts';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const DEADLINE_MS = 150_000;

/**
 * `make sandbox --smoke` as CI runs it: the whole sandbox in a child process (control plane,
 * ZMS test server, the operator as its own process), which runs its printed guide's commands
 * verbatim and exits 0 only if the member added with zms-cli, then with curl, reached the
 * RoleBinding and left it.
 */
const dir = makeWorkdir('sandbox-smoke');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function runSmoke(): Promise<{ code: number | string; output: string }> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(
      process.execPath,
      [
        '--disable-warning=ExperimentalWarning',
        'hack/sandbox.ts',
        '--smoke',
        '--dir',
        dir,
        '--zms-port',
        '0',
        '--ready-timeout',
        '90',
      ],
      { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    // The deadline: SIGTERM makes the sandbox clean up; SIGKILL if even that hangs.
    const term = setTimeout(() => child.kill('SIGTERM'), DEADLINE_MS);
    const kill = setTimeout(() => child.kill('SIGKILL'), DEADLINE_MS + 20_000);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      clearTimeout(term);
      clearTimeout(kill);
      resolveRun({ code: code ?? signal ?? 'unknown', output });
    });
  });
}

describe('make sandbox --smoke', () => {
  it(
    'starts everything, runs the printed guide verbatim and cleans up',
    async () => {
      const { code, output } = await runSmoke();
      if (code !== 0) process.stderr.write(output);
      expect(code).toBe(0);

      expect(output).toMatch(
        /First AthenzRoleMapping Ready \(eks-users: 2 namespaces synced\) [\d.]+ s after start/,
      );
      expect(output).toContain(`export KUBECONFIG=${join(dir, 'kubeconfig')}`);
      expect(output).toMatch(/export PATH=\S+:\$PATH/);
      expect(output).toContain('  kubectl get arm\n');
      // The Athenz way first: zms-cli, with the sandbox's identity, server and CA.
      const zmsCli =
        'zms-cli -i user\\.athenz_admin -z https:\\/\\/127\\.0\\.0\\.1:\\d+\\/zms\\/v1 -cert \\S+user\\.athenz_admin\\.cert\\.pem ' +
        '-key \\S+user\\.athenz_admin\\.key\\.pem -c \\S+ca\\.cert\\.pem -d eks\\.users\\.team-a';
      expect(output).toMatch(new RegExp(`  ${zmsCli} add-member k8s_ns_viewers user\\.jane\\n`));
      expect(output).toMatch(new RegExp(`  ${zmsCli} delete-member k8s_ns_viewers user\\.jane\\n`));
      expect(output).toMatch(
        new RegExp(
          `  ${zmsCli} add-temporary-member k8s_ns_viewers user\\.jane \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.000Z\\n`,
        ),
      );
      expect(output).toMatch(new RegExp(`  ${zmsCli} show-role k8s_ns_viewers\\n`));
      expect(output.indexOf(' add-member k8s_ns_viewers')).toBeLessThan(output.indexOf('curl -sS'));
      expect(output).toMatch(
        /curl -sS --fail-with-body --cert \S+user\.athenz_admin\.cert\.pem --key \S+user\.athenz_admin\.key\.pem --cacert \S+ca\.cert\.pem -X PUT -H 'Content-Type: application\/json' -d '\{"memberName":"user\.jane"\}' https:\/\/127\.0\.0\.1:\d+\/zms\/v1\/domain\/eks\.users\.team-a\/role\/k8s_ns_viewers\/member\/user\.jane/,
      );
      expect(output).toContain('  kubectl get rolebinding -n team-a -o wide\n');
      expect(output).toMatch(
        /-X DELETE https:\/\/\S+\/domain\/eks\.users\.team-a\/role\/k8s_ns_viewers\/member\/user\.jane/,
      );
      expect(output).toContain(`tail -f ${join(dir, 'operator.log')}`);
      expect(output).toMatch(/metrics: {2}curl -s http:\/\/127\.0\.0\.1:\d+\/metrics/);
      // The samples all apply and do not conflict: each mapping shows up with its own namespaces.
      expect(output).toMatch(/eks-users +eks\.users +2\/2 .*Active +True +Synced/);
      expect(output).toMatch(/eks-users-dry-run +eks\.users +1\/1 .*DryRun +False +DryRun/);
      expect(output).toMatch(/eks-users-platform +eks\.users +1\/1 +3 +Active +True +Synced/);
      // The guide's kubectl command showed the member while it was there.
      expect(output).toMatch(/athenz\.k8s-ns-viewers\.view-\w+ +ClusterRole\/view +\S+ +user\.jane/);
      // Each way ran: the temporary member showed its expiration in show-role.
      expect(output).toMatch(/ expiration: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z\n/);
      expect(output).toMatch(/"memberName":"user\.jane","expiration":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z"/);
      expect(output).toMatch(
        /smoke test passed: .*zms-cli: member added -> RoleBinding [\d.]+ s; removed -> RoleBinding [\d.]+ s; curl: member added -> RoleBinding [\d.]+ s; removed -> RoleBinding [\d.]+ s/,
      );
      expect(output).toContain('sandbox stopped');
      // Cleaned up: no kubeconfig or env file of a sandbox that is gone; certificates kept.
      expect(existsSync(join(dir, 'kubeconfig'))).toBe(false);
      expect(existsSync(join(dir, 'env.sh'))).toBe(false);
      expect(existsSync(join(dir, 'sandbox.pid'))).toBe(false);
      expect(existsSync(join(dir, 'certs', 'ca.cert.pem'))).toBe(true);
    },
    DEADLINE_MS + 30_000,
  );
});
