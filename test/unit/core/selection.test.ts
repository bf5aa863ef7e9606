import { describe, expect, it } from '@jest/globals';
import type { LabelSelector } from '../../../src/core/label-selector.ts';
import {
  DEFAULT_EXCLUDED_NAMESPACES,
  type NamespaceInfo,
  selectNamespaces,
} from '../../../src/core/selection.ts';

function ns(name: string, labels: Record<string, string> = {}, terminating = false): NamespaceInfo {
  return { name, labels, terminating };
}

const cluster: NamespaceInfo[] = [
  ns('team-b', { tenant: 'yes', tier: 'prod' }),
  ns('team-a', { tenant: 'yes', tier: 'dev' }),
  ns('kube-system', { tenant: 'yes' }),
  ns('kube-public'),
  ns('kube-node-lease'),
  ns('athenz-rbac-operator', { tenant: 'yes' }),
  ns('default'),
  ns('team-c', { tenant: 'yes' }, true),
  ns('sandbox', { tier: 'dev' }),
];
const operatorExcluded = new Set([...DEFAULT_EXCLUDED_NAMESPACES, 'athenz-rbac-operator']);

interface Case {
  selector?: LabelSelector;
  excluded?: string[];
  operatorExcluded?: ReadonlySet<string>;
  selected: string[];
}

const cases: Record<string, Case> = {
  'no selector selects every namespace that is not excluded or terminating': {
    selected: ['default', 'sandbox', 'team-a', 'team-b'],
  },
  'an empty selector selects the same as none': {
    selector: {},
    selected: ['default', 'sandbox', 'team-a', 'team-b'],
  },
  'matchLabels selects the labelled namespaces': {
    selector: { matchLabels: { tenant: 'yes' } },
    selected: ['team-a', 'team-b'],
  },
  'matchExpressions selects with In': {
    selector: { matchExpressions: [{ key: 'tier', operator: 'In', values: ['dev'] }] },
    selected: ['sandbox', 'team-a'],
  },
  'matchLabels and matchExpressions must both hold': {
    selector: {
      matchLabels: { tenant: 'yes' },
      matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['prod'] }],
    },
    selected: ['team-a'],
  },
  'a selector nothing matches selects nothing': { selector: { matchLabels: { tenant: 'no' } }, selected: [] },
  'the spec exclusions are removed': {
    selector: { matchLabels: { tenant: 'yes' } },
    excluded: ['team-b'],
    selected: ['team-a'],
  },
  'an exclusion naming a namespace that does not exist changes nothing': {
    excluded: ['nope'],
    selected: ['default', 'sandbox', 'team-a', 'team-b'],
  },
  'without operator exclusions the system namespaces are selectable': {
    selector: { matchLabels: { tenant: 'yes' } },
    operatorExcluded: new Set(),
    selected: ['athenz-rbac-operator', 'kube-system', 'team-a', 'team-b'],
  },
  'a terminating namespace is never selected, even when it matches': {
    selector: { matchExpressions: [{ key: 'tenant', operator: 'Exists' }] },
    operatorExcluded: new Set(),
    selected: ['athenz-rbac-operator', 'kube-system', 'team-a', 'team-b'],
  },
};

describe('selectNamespaces', () => {
  it.each(Object.entries(cases))('%s', (_title, c) => {
    const selected = selectNamespaces(
      { namespaceSelector: c.selector, excludedNamespaces: c.excluded ?? [] },
      cluster,
      c.operatorExcluded ?? operatorExcluded,
    );
    expect(selected).toEqual(c.selected);
  });

  it('returns the names sorted, whatever the input order', () => {
    const names = ['b', 'a10', 'a2', 'c', 'a1'];
    expect(
      selectNamespaces(
        { namespaceSelector: undefined, excludedNamespaces: [] },
        names.map((n) => ns(n)),
        new Set(),
      ),
    ).toEqual(['a1', 'a10', 'a2', 'b', 'c']);
  });

  it('excludes the Kubernetes system namespaces by default', () => {
    expect(DEFAULT_EXCLUDED_NAMESPACES).toEqual(['kube-system', 'kube-public', 'kube-node-lease']);
  });
});
