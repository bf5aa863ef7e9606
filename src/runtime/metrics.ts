import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/**
 * Prometheus metrics, named as controller-runtime names them where one exists, so existing
 * dashboards and alerts for Kubernetes operators work unchanged. One registry per operator
 * instance (tests run several in one process).
 */
export function createMetrics(options: { defaultMetrics?: boolean } = {}) {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  const controller = 'athenzrolemapping';
  const metrics = {
    registry,
    controller,
    reconcileTotal: new Counter({
      name: 'controller_runtime_reconcile_total',
      help: 'Reconciles by controller and result (success, error, requeue_after).',
      labelNames: ['controller', 'result'],
      registers: [registry],
    }),
    reconcileErrors: new Counter({
      name: 'controller_runtime_reconcile_errors_total',
      help: 'Reconciles that returned an error.',
      labelNames: ['controller'],
      registers: [registry],
    }),
    reconcileTime: new Histogram({
      name: 'controller_runtime_reconcile_time_seconds',
      help: 'Time per reconcile.',
      labelNames: ['controller'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    queueDepth: new Gauge({
      name: 'workqueue_depth',
      help: 'Keys waiting.',
      labelNames: ['name'],
      registers: [registry],
    }),
    queueAdds: new Counter({
      name: 'workqueue_adds_total',
      help: 'Keys added.',
      labelNames: ['name'],
      registers: [registry],
    }),
    queueRetries: new Counter({
      name: 'workqueue_retries_total',
      help: 'Keys re-added after a failure.',
      labelNames: ['name'],
      registers: [registry],
    }),
    zmsRequests: new Counter({
      name: 'athenz_zms_requests_total',
      help: 'ZMS requests by endpoint template, method and HTTP status (0 = no response).',
      labelNames: ['endpoint', 'method', 'code'],
      registers: [registry],
    }),
    zmsLatency: new Histogram({
      name: 'athenz_zms_request_duration_seconds',
      help: 'ZMS request latency.',
      labelNames: ['endpoint'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    changePolls: new Counter({
      name: 'athenz_change_polls_total',
      help: 'Change polls of /sys/modified_domains by result (not_modified, changed, error).',
      labelNames: ['result'],
      registers: [registry],
    }),
    subjects: new Gauge({
      name: 'athenz_rbac_subjects',
      help: 'Subjects bound per mapping.',
      labelNames: ['mapping'],
      registers: [registry],
    }),
    namespaces: new Gauge({
      name: 'athenz_rbac_namespaces',
      help: 'Namespaces per mapping by state (selected, synced, failed).',
      labelNames: ['mapping', 'state'],
      registers: [registry],
    }),
    lastSync: new Gauge({
      name: 'athenz_rbac_last_sync_timestamp_seconds',
      help: 'Unix time of the last fully successful sync per mapping.',
      labelNames: ['mapping'],
      registers: [registry],
    }),
    subjectChanges: new Counter({
      name: 'athenz_rbac_subject_changes_total',
      help: 'Subjects added to or removed from RoleBindings, by reason.',
      labelNames: ['action', 'reason'],
      registers: [registry],
    }),
    driftRepairs: new Counter({
      name: 'athenz_rbac_drift_repairs_total',
      help: 'Managed RoleBindings repaired after someone else changed or deleted them.',
      registers: [registry],
    }),
    propagationDelay: new Histogram({
      name: 'athenz_rbac_propagation_delay_seconds',
      help: 'From a change in Athenz (the domain modified time) to the RoleBinding applied.',
      buckets: [0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300],
      registers: [registry],
    }),
    writeFailures: new Counter({
      name: 'athenz_rbac_kube_write_failures_total',
      help: 'RoleBinding writes the API server refused or did not answer, by verb.',
      labelNames: ['verb'],
      registers: [registry],
    }),
    eventsDropped: new Counter({
      name: 'athenz_rbac_events_dropped_total',
      help: 'Events not recorded because too many were waiting to be sent.',
      registers: [registry],
    }),
    leader: new Gauge({
      name: 'leader_election_master_status',
      help: '1 when this instance is the leader.',
      labelNames: ['name'],
      registers: [registry],
    }),
  };
  return metrics;
}

export type Metrics = ReturnType<typeof createMetrics>;
