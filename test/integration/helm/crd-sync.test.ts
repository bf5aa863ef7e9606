import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { CRD_PATH } from '../../support/cluster-fixtures.ts';
import { CHART_DIR, REPO_ROOT, REQUIRED_VALUES, render, run, scratchDir } from '../../support/helm.ts';

/**
 * One source of truth for the CRD: crds/rbac.athenz.io_athenzrolemappings.yaml. The chart's
 * templates/crd.yaml is generated from it by hack/sync-chart-crd.sh; these tests fail when the
 * two drift apart.
 */
const SCRIPT = join(REPO_ROOT, 'hack/sync-chart-crd.sh');

describe('the chart CRD and crds/', () => {
  it('the generated template is up to date (hack/sync-chart-crd.sh --check)', async () => {
    const check = await run('bash', [SCRIPT, '--check']);
    expect(check.stderr).toBe('');
    expect(check.code).toBe(0);
  });

  it('renders the source CRD exactly, plus the chart labels and helm.sh/resource-policy: keep', async () => {
    const source = k8s.loadYaml<k8s.V1CustomResourceDefinition>(readFileSync(CRD_PATH, 'utf8'));
    const rendered = (await render(REQUIRED_VALUES)).filter((o) => o.kind === 'CustomResourceDefinition');
    expect(rendered).toHaveLength(1);
    const crd = rendered[0] as unknown as k8s.V1CustomResourceDefinition;
    const { labels, annotations, ...metadata } = crd.metadata ?? {};
    const { 'helm.sh/resource-policy': policy, ...otherAnnotations } = annotations ?? {};
    expect(policy).toBe('keep');
    expect(labels?.['app.kubernetes.io/name']).toBe('athenz-rbac-operator');
    expect({ ...crd, metadata: { ...metadata, annotations: otherAnnotations } }).toEqual(source);

    const without = await render({ ...REQUIRED_VALUES, crds: { install: false } });
    expect(without.filter((o) => o.kind === 'CustomResourceDefinition')).toEqual([]);
  });

  it('--check fails on a stale template, and the script brings it back in line', async () => {
    const root = scratchDir('crd-sync-');
    const chart = join(root, 'config/helm/athenz-rbac-operator');
    mkdirSync(join(root, 'crds'), { recursive: true });
    cpSync(CRD_PATH, join(root, 'crds/rbac.athenz.io_athenzrolemappings.yaml'));
    cpSync(CHART_DIR, chart, { recursive: true });
    const copy = join(root, 'crds/rbac.athenz.io_athenzrolemappings.yaml');
    const original = readFileSync(copy, 'utf8');
    expect(original).toContain('shortNames: [arm]');
    writeFileSync(copy, original.replace('shortNames: [arm]', 'shortNames: [arm, athenzmap]'));

    const stale = await run('bash', [SCRIPT, '--check'], { env: { ROOT: root } });
    expect(stale.code).toBe(1);
    expect(stale.stderr).toContain('+    shortNames: [arm, athenzmap]');
    expect(stale.stderr).toContain(
      'templates/crd.yaml is stale; run hack/sync-chart-crd.sh (make chart-crd)',
    );

    const synced = await run('bash', [SCRIPT], { env: { ROOT: root } });
    expect(synced.code).toBe(0);
    expect(readFileSync(join(chart, 'templates/crd.yaml'), 'utf8')).toContain('shortNames: [arm, athenzmap]');
    expect((await run('bash', [SCRIPT, '--check'], { env: { ROOT: root } })).code).toBe(0);
  });

  it('refuses a source it cannot wrap safely: a Helm action inside the CRD', async () => {
    const root = scratchDir('crd-sync-');
    mkdirSync(join(root, 'crds'), { recursive: true });
    cpSync(CHART_DIR, join(root, 'config/helm/athenz-rbac-operator'), { recursive: true });
    const copy = join(root, 'crds/rbac.athenz.io_athenzrolemappings.yaml');
    writeFileSync(copy, readFileSync(CRD_PATH, 'utf8').replace('Parent', 'Parent {{ .Values.x }}'));
    const refused = await run('bash', [SCRIPT], { env: { ROOT: root } });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("contains '{{', which Helm would read as a template action");
  });
});
