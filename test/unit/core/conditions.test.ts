import { describe, expect, it } from '@jest/globals';
import {
  type Condition,
  type ConditionInput,
  ConditionType,
  findCondition,
  setCondition,
} from '../../../src/core/conditions.ts';

const t0 = new Date('2026-06-01T12:00:00.000Z');
const t1 = new Date('2026-06-01T12:05:30.250Z');

const ready = (status: ConditionInput['status'], reason = 'Synced', message = 'in sync'): ConditionInput => ({
  type: ConditionType.Ready,
  status,
  reason,
  message,
});

describe('setCondition', () => {
  it('adds a new condition stamped with the generation and the time, in whole seconds', () => {
    expect(setCondition([], ready('True'), 3, t1)).toEqual([
      {
        type: 'Ready',
        status: 'True',
        reason: 'Synced',
        message: 'in sync',
        observedGeneration: 3,
        lastTransitionTime: '2026-06-01T12:05:30Z',
      },
    ]);
  });

  const transitions: Array<[string, ConditionInput, string]> = [
    ['the same status keeps the transition time', ready('True'), '2026-06-01T12:00:00Z'],
    [
      'the same status with a new reason and message keeps the transition time',
      ready('True', 'NoNamespacesSelected', 'nothing selected'),
      '2026-06-01T12:00:00Z',
    ],
    ['True to False moves the transition time', ready('False', 'NamespacesFailed'), '2026-06-01T12:05:30Z'],
    ['True to Unknown moves the transition time', ready('Unknown', 'Suspended'), '2026-06-01T12:05:30Z'],
  ];
  it.each(transitions)('%s', (_title, input, lastTransitionTime) => {
    const before = setCondition([], ready('True'), 1, t0);
    const after = setCondition(before, input, 2, t1);
    expect(after).toEqual([{ ...input, observedGeneration: 2, lastTransitionTime }]);
  });

  it('records the new generation even when nothing else changes', () => {
    const before = setCondition([], ready('True'), 1, t0);
    expect(setCondition(before, ready('True'), 7, t1)[0]?.observedGeneration).toBe(7);
  });

  it('is byte-for-byte the same when set twice with the same facts', () => {
    const once = setCondition([], ready('True'), 4, t0);
    expect(JSON.stringify(setCondition(once, ready('True'), 4, t1))).toBe(JSON.stringify(once));
  });

  it('leaves the other conditions untouched', () => {
    const reachable: Condition = {
      type: ConditionType.AthenzReachable,
      status: 'False',
      reason: 'ZmsUnavailable',
      message: 'down',
      observedGeneration: 1,
      lastTransitionTime: '2026-01-01T00:00:00Z',
    };
    const result = setCondition([reachable], ready('True'), 2, t1);
    expect(findCondition(result, ConditionType.AthenzReachable)).toEqual(reachable);
  });

  it('does not modify the list it was given', () => {
    const before = setCondition([], ready('True'), 1, t0);
    const copy = structuredClone(before);
    setCondition(before, ready('False'), 2, t1);
    expect(before).toEqual(copy);
  });

  it('orders the known types the same way whatever order they were set in', () => {
    const types = [
      ConditionType.Conflict,
      ConditionType.Ready,
      ConditionType.InvalidSpec,
      ConditionType.Degraded,
      ConditionType.AthenzReachable,
    ];
    const conditions = types.reduce<Condition[]>(
      (acc, type) => setCondition(acc, { type, status: 'True', reason: 'R', message: 'm' }, 1, t0),
      [],
    );
    expect(conditions.map((c) => c.type)).toEqual([
      'Ready',
      'AthenzReachable',
      'Degraded',
      'Conflict',
      'InvalidSpec',
    ]);
    const updated = setCondition(
      conditions,
      { type: 'Ready', status: 'False', reason: 'R', message: 'm' },
      2,
      t1,
    );
    expect(updated.map((c) => c.type)).toEqual(conditions.map((c) => c.type));
  });

  it('puts types it does not know after the known ones', () => {
    const withForeign = setCondition(
      [],
      { type: 'Foreign', status: 'True', reason: 'R', message: 'm' },
      1,
      t0,
    );
    const result = setCondition(withForeign, ready('True'), 1, t0);
    expect(result.map((c) => c.type)).toEqual(['Ready', 'Foreign']);
  });
});

describe('findCondition', () => {
  it('finds a condition by type, or nothing', () => {
    const conditions = setCondition([], ready('True'), 1, t0);
    expect(findCondition(conditions, 'Ready')?.status).toBe('True');
    expect(findCondition(conditions, 'Degraded')).toBeUndefined();
  });
});
