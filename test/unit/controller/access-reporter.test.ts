import { describe, expect, it } from '@jest/globals';
import { AccessReporter } from '../../../src/controller/access-reporter.ts';
import type { KubeWriter, MappingEvent } from '../../../src/kube/kube-writer.ts';
import { createMetrics } from '../../../src/runtime/metrics.ts';
import { captureLogger } from '../../support/log-capture.ts';

/** Events are bounded: aggregated per mapping and reason, and never more than a few in flight. */
function setup(recordEvent: (e: MappingEvent) => Promise<void>, maxPendingEvents = 5) {
  const metrics = createMetrics({ defaultMetrics: false });
  const kube = { recordEvent } as unknown as KubeWriter;
  const reporter = new AccessReporter(kube, captureLogger().log, metrics, { maxPendingEvents });
  return { reporter, metrics };
}
const mapping = { name: 'm1', uid: 'uid-m1' };

describe('AccessReporter', () => {
  it('drops and counts Events beyond the ones waiting to be sent', async () => {
    const sent: MappingEvent[] = [];
    const { reporter, metrics } = setup((e) => {
      sent.push(e);
      return new Promise(() => undefined); // an API server that never answers
    });
    for (let i = 0; i < 8; i++) reporter.warnOnce(mapping, `Reason${i}`, 'Sync', `problem ${i}`);
    expect(sent).toHaveLength(5);
    expect((await metrics.eventsDropped.get()).values[0]?.value).toBe(3);
  });

  it('warns once per mapping and reason, whatever the text, and names the first few namespaces', () => {
    const sent: MappingEvent[] = [];
    const { reporter } = setup(async (e) => {
      sent.push(e);
    });
    const failures = Array.from({ length: 12 }, (_, i) => ({
      namespace: `ns-${i}`,
      reason: 'AthenzUnavailable',
      message: 'ZMS down',
    }));
    reporter.namespacesFailed(mapping, failures);
    reporter.namespacesFailed(mapping, failures.slice(3));
    expect(sent.map((e) => e.note)).toEqual([
      '12 namespaces failed: ns-0: ZMS down; ns-1: ZMS down; ns-2: ZMS down; ns-3: ZMS down; ns-4: ZMS down and 7 more',
    ]);
    reporter.forget('m1');
    reporter.namespacesFailed(mapping, failures.slice(0, 1));
    expect(sent.at(-1)?.note).toBe('ns-0: ZMS down');
  });
});
