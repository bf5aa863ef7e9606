import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { parseDuration } from '../core/duration.ts';
import { leaseTimingProblem } from './lease-timing.ts';

/**
 * The process configuration: command-line flags, each with an environment fallback
 * (`--zms-url` or `ZMS_URL`), validated once with zod. A bad value is reported as one line
 * naming the flag and the value, and the process exits non-zero.
 */
const FLAGS = {
  'zms-url': { env: 'ZMS_URL', help: 'ZMS base URL, e.g. https://zms.example.com:4443/zms/v1' },
  'zms-cert': { env: 'ZMS_CERT_FILE', help: 'client certificate file (PEM); re-read when it changes' },
  'zms-key': { env: 'ZMS_KEY_FILE', help: 'client key file (PEM)' },
  'zms-ca': { env: 'ZMS_CA_FILE', help: 'CA bundle that signed the ZMS server certificate' },
  'zms-timeout': { env: 'ZMS_TIMEOUT', default: '5s', help: 'per-request timeout' },
  'zms-concurrency': { env: 'ZMS_CONCURRENCY', default: '8', help: 'ZMS requests in flight at most' },
  'operator-principal': {
    env: 'OPERATOR_PRINCIPAL',
    help: "Athenz principal of the operator (default: the certificate's CN)",
  },
  'allowed-cluster-roles': {
    env: 'ALLOWED_CLUSTER_ROLES',
    default: 'admin,edit,view',
    help: 'ClusterRoles mappings may bind',
  },
  'excluded-namespaces': {
    env: 'EXCLUDED_NAMESPACES',
    default: '',
    help: 'namespaces never selected, besides kube-* and the own',
  },
  namespace: {
    env: 'POD_NAMESPACE',
    help: "the operator's own namespace (never synced; holds the Lease). Default: the Pod's namespace, else athenz-rbac-system",
  },
  workers: { env: 'WORKERS', default: '2', help: 'mappings reconciled at once' },
  'namespace-concurrency': {
    env: 'NAMESPACE_CONCURRENCY',
    default: '8',
    help: 'namespaces synced at once per mapping',
  },
  'resync-period': {
    env: 'RESYNC_PERIOD',
    default: '10m',
    help: 'full resync period, the safety net behind change polling',
  },
  'metrics-addr': {
    env: 'METRICS_ADDR',
    default: ':8080',
    help: 'listen address of /metrics ("0" disables)',
  },
  'health-addr': { env: 'HEALTH_ADDR', default: ':8081', help: 'listen address of /healthz and /readyz' },
  'leader-elect': {
    env: 'LEADER_ELECT',
    default: 'false',
    help: 'elect a leader on a Lease (needed with replicas > 1)',
  },
  'lease-name': { env: 'LEASE_NAME', default: 'athenz-rbac-operator', help: 'name of the leader Lease' },
  'lease-duration': {
    env: 'LEASE_DURATION',
    default: '15s',
    help: 'how long a standby waits for a silent leader',
  },
  'renew-deadline': {
    env: 'RENEW_DEADLINE',
    default: '10s',
    help: 'how long the leader retries renewing before it steps down',
  },
  'retry-period': { env: 'RETRY_PERIOD', default: '2s', help: 'how often the Lease is renewed or tried' },
  'shutdown-timeout': {
    env: 'SHUTDOWN_TIMEOUT',
    default: '20s',
    help: 'deadline for reconciles in flight at SIGTERM',
  },
  'log-level': { env: 'LOG_LEVEL', default: 'info', help: 'error, warn, info or debug' },
  'pod-name': { env: 'POD_NAME', help: 'identity in the Lease and in Events (default: hostname)' },
} as const satisfies Record<string, { env: string; default?: string; help: string }>;

type FlagName = keyof typeof FLAGS;

const duration = (flag: FlagName) =>
  z.string().transform((text, ctx) => {
    const ms = parseDuration(text);
    if (ms === undefined || ms <= 0) {
      ctx.addIssue({
        code: 'custom',
        message: `--${flag}: ${JSON.stringify(text)} is not a duration such as 30s or 5m`,
      });
      return z.NEVER;
    }
    return ms;
  });
const positiveInt = (flag: FlagName) =>
  z.string().transform((text, ctx) => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < 1) {
      ctx.addIssue({
        code: 'custom',
        message: `--${flag}: ${JSON.stringify(text)} is not a positive whole number`,
      });
      return z.NEVER;
    }
    return n;
  });
const list = z.string().transform((s) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean),
);
const required = (flag: FlagName) =>
  z.string({ error: `--${flag} (or ${FLAGS[flag].env}) is required` }).min(1, `--${flag} must not be empty`);
const address = (flag: FlagName) =>
  z.string().transform((text, ctx) => {
    if (text === '0') return undefined;
    const match = /^(.*):(\d{1,5})$/.exec(text);
    if (!match || Number(match[2]) > 65535) {
      ctx.addIssue({ code: 'custom', message: `--${flag}: ${JSON.stringify(text)} is not [host]:port` });
      return z.NEVER;
    }
    return { host: match[1] || '0.0.0.0', port: Number(match[2]) };
  });

const schema = z.object({
  'zms-url': required('zms-url').refine((u) => /^https:\/\/[^/]+/.test(u), {
    message: '--zms-url must be an https:// URL (TLS to ZMS cannot be turned off)',
  }),
  'zms-cert': required('zms-cert'),
  'zms-key': required('zms-key'),
  'zms-ca': required('zms-ca'),
  'zms-timeout': duration('zms-timeout'),
  'zms-concurrency': positiveInt('zms-concurrency'),
  'operator-principal': z.string().optional(),
  'allowed-cluster-roles': list.refine(
    (l) => l.length > 0,
    '--allowed-cluster-roles must name at least one ClusterRole',
  ),
  'excluded-namespaces': list,
  namespace: z.string().min(1).optional(),
  workers: positiveInt('workers'),
  'namespace-concurrency': positiveInt('namespace-concurrency'),
  'resync-period': duration('resync-period'),
  'metrics-addr': address('metrics-addr'),
  'health-addr': address('health-addr'),
  'leader-elect': z
    .enum(['true', 'false'], { error: '--leader-elect must be true or false' })
    .transform((v) => v === 'true'),
  'lease-name': z.string().min(1),
  'lease-duration': duration('lease-duration'),
  'renew-deadline': duration('renew-deadline'),
  'retry-period': duration('retry-period'),
  'shutdown-timeout': duration('shutdown-timeout'),
  'log-level': z.enum(['error', 'warn', 'info', 'debug'], {
    error: '--log-level must be error, warn, info or debug',
  }),
  'pod-name': z.string().optional(),
});

export type ProcessConfig = Omit<z.output<typeof schema>, 'namespace'> & {
  namespace: string;
  operatorPrincipal: string;
};

const SERVICE_ACCOUNT_NAMESPACE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

/** In a Pod, its namespace (as kubectl does); elsewhere a dedicated name, never `default`,
 * which would silently exclude the `default` namespace from syncing. */
function podNamespace(): string {
  try {
    return readFileSync(SERVICE_ACCOUNT_NAMESPACE, 'utf8').trim() || 'athenz-rbac-system';
  } catch {
    return 'athenz-rbac-system';
  }
}

export class ConfigError extends Error {}

export function usage(): string {
  return Object.entries(FLAGS)
    .map(
      ([name, f]) =>
        `  --${name.padEnd(22)} ${f.help} [${f.env}${'default' in f ? `, default ${JSON.stringify(f.default)}` : ''}]`,
    )
    .join('\n');
}

export function loadConfig(argv: string[], env: NodeJS.ProcessEnv): ProcessConfig {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: argv,
      options: Object.fromEntries(Object.keys(FLAGS).map((name) => [name, { type: 'string' as const }])),
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  const raw = Object.fromEntries(
    Object.entries(FLAGS).map(([name, f]) => [
      name,
      values[name] ?? env[f.env] ?? ('default' in f ? f.default : undefined),
    ]),
  );
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const flag = String(issue.path[0]);
    const message = issue.message.startsWith('--') ? issue.message : `--${flag}: ${issue.message}`;
    const value = JSON.stringify(raw[flag]);
    throw new ConfigError(message.includes(value) ? message : `${message} (got ${value})`);
  }
  const config = parsed.data;
  const timing = leaseTimingProblem({
    leaseDurationMs: config['lease-duration'],
    renewDeadlineMs: config['renew-deadline'],
    retryPeriodMs: config['retry-period'],
  });
  if (config['leader-elect'] && timing) {
    throw new ConfigError(`--lease-duration, --renew-deadline, --retry-period: ${timing}`);
  }
  for (const flag of ['zms-cert', 'zms-key', 'zms-ca'] as const) {
    try {
      readFileSync(config[flag]);
    } catch (err) {
      throw new ConfigError(
        `--${flag}: cannot read ${JSON.stringify(config[flag])}: ${(err as NodeJS.ErrnoException).code ?? err}`,
      );
    }
  }
  const operatorPrincipal = config['operator-principal'] ?? principalOf(config['zms-cert']);
  return { ...config, namespace: config.namespace ?? podNamespace(), operatorPrincipal };
}

/** The Athenz principal of a client certificate: its CN, lowercased, as ZMS reads it. */
function principalOf(certFile: string): string {
  const subject = new X509Certificate(readFileSync(certFile)).subject;
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(subject)?.[1];
  if (!cn?.includes('.')) {
    throw new ConfigError(
      `--zms-cert: the certificate's CN ${JSON.stringify(cn)} is not an Athenz principal (domain.name)`,
    );
  }
  return cn.toLowerCase();
}
