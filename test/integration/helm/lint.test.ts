import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import {
  CHART_DIR,
  helm,
  REPO_ROOT,
  REQUIRED_VALUES,
  sharedScratch,
  template,
  valuesFile,
} from '../../support/helm.ts';

/**
 * The chart is well formed, and values.schema.json turns a malformed value into an error that
 * names the value and what is wrong, before anything reaches a cluster.
 */
const lint = (values: unknown, ...extra: string[]) =>
  helm(['lint', CHART_DIR, '--strict', '--values', valuesFile(sharedScratch(), values), ...extra]);

describe('helm lint and the values schema', () => {
  it('lints clean with the required values, and with the CI value sets', async () => {
    const required = await lint(REQUIRED_VALUES);
    expect(required.stdout).toContain('1 chart(s) linted, 0 chart(s) failed');
    expect(required.code).toBe(0);
    for (const file of ['ci/default-values.yaml', 'ci/full-values.yaml']) {
      const result = await helm(['lint', CHART_DIR, '--strict', '--values', join(CHART_DIR, file)]);
      expect({ file, code: result.code, out: result.stdout }).toEqual({
        file,
        code: 0,
        out: expect.stringContaining('0 chart(s) failed'),
      });
    }
  });

  it("deploys the operator version of package.json: appVersion, and the image tag's default", async () => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    const chart = k8s.loadYaml<{ appVersion: string }>(readFileSync(join(CHART_DIR, 'Chart.yaml'), 'utf8'));
    expect(chart.appVersion).toBe(pkg.version);
    const rendered = await template(REQUIRED_VALUES, {
      extraArgs: ['--show-only', 'templates/deployment.yaml'],
    });
    expect(rendered.stdout).toContain(
      `image: "ghcr.io/athenz-rbac-operator/athenz-rbac-operator:${pkg.version}"`,
    );
  });

  const malformed: Array<[string, Record<string, unknown>, string]> = [
    ['replicas as a word', { replicas: 'two' }, "at '/replicas': got string, want integer"],
    [
      'a ZMS URL that is not https',
      { zms: { ...REQUIRED_VALUES.zms, url: 'http://zms.example.com:4443/zms/v1' } },
      "at '/zms/url': 'http://zms.example.com:4443/zms/v1' does not match pattern '^https://",
    ],
    ['no ZMS URL', { zms: { clientCertSecret: 'zms-client' } }, "at '/zms': missing property 'url'"],
    [
      'no client certificate Secret',
      { zms: { url: REQUIRED_VALUES.zms.url } },
      "at '/zms': missing property 'clientCertSecret'",
    ],
    [
      'an empty allowedClusterRoles',
      { allowedClusterRoles: [] },
      "at '/allowedClusterRoles': minItems: got 0, want 1",
    ],
    [
      'a ClusterRole list with a comma inside a name',
      { allowedClusterRoles: ['admin,secret-reader'] },
      "at '/allowedClusterRoles/0': 'admin,secret-reader' does not match pattern",
    ],
    [
      'a log level the operator does not know',
      { logLevel: 'verbose' },
      "at '/logLevel': value must be one of",
    ],
    [
      'a duration without a unit',
      { resyncPeriod: '600' },
      "at '/resyncPeriod': '600' does not match pattern",
    ],
    ['a misspelt key', { replica: 3 }, "at '': additional properties 'replica' not allowed"],
    [
      'a flag in extraArgs without --',
      { extraArgs: ['workers=4'] },
      "at '/extraArgs/0': 'workers=4' does not match",
    ],
  ];

  it.each(malformed)('rejects %s, naming the value', async (_what, bad, message) => {
    const values = { ...REQUIRED_VALUES, ...bad };
    const linted = await lint(values);
    expect(linted.code).toBe(1);
    expect(linted.stdout).toContain(message);
    const rendered = await template(values);
    expect(rendered.code).toBe(1);
    expect(rendered.stderr).toContain("values don't meet the specifications of the schema(s)");
    expect(rendered.stderr).toContain(message);
    expect(rendered.stdout).toBe('');
  });

  it('refuses several replicas without leader election, saying why', async () => {
    const bad = { ...REQUIRED_VALUES, replicas: 2, leaderElection: { enabled: false } };
    const rendered = await template(bad);
    expect(rendered.code).toBe(1);
    expect(rendered.stderr).toContain(
      'replicas > 1 needs leaderElection.enabled=true: two operators without a leader would fight over the same RoleBindings',
    );
    // One replica without leader election is a valid choice.
    const single = await template({ ...bad, replicas: 1 });
    expect(single.code).toBe(0);
    expect(single.stdout).toContain('--leader-elect=false');
  });
});
