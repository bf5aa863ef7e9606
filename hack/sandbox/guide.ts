/**
 * The copy-paste guide the sandbox prints. Every command is built here once, printed as is, and
 * (in `--smoke` mode) run as is by a shell, so the guide a person reads is the guide CI checked.
 */
export const DEMO_NAMESPACE = 'team-a';
export const DEMO_ROLE = 'k8s_ns_viewers';
export const DEMO_MEMBER = 'user.jane';

export interface GuideInput {
  kubeconfigPath: string;
  assetsDir: string;
  zmsUrl: string;
  zmsAdminUrl: string | undefined;
  adminCertPath: string;
  adminKeyPath: string;
  caPath: string;
  parentDomain: string;
  envFile: string;
  operator?: { logPath: string; metricsUrl: string; healthUrl: string; pid: number } | undefined;
}

export interface Guide {
  exports: string[];
  getMappings: string;
  addMember: string;
  getBindings: string;
  removeMember: string;
  showRole: string;
}

/** Single-quotes a word for a POSIX shell when it needs it. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_./:=@%+,-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

export function guideCommands(input: GuideInput): Guide {
  const q = shellQuote;
  const curl = `curl -sS --fail-with-body --cert ${q(input.adminCertPath)} --key ${q(input.adminKeyPath)} --cacert ${q(input.caPath)}`;
  const domain = `${input.parentDomain}.${DEMO_NAMESPACE}`;
  const member = `${input.zmsUrl}/domain/${domain}/role/${DEMO_ROLE}/member/${DEMO_MEMBER}`;
  return {
    exports: [`export KUBECONFIG=${q(input.kubeconfigPath)}`, `export PATH=${q(input.assetsDir)}:$PATH`],
    getMappings: 'kubectl get arm',
    addMember: `${curl} -X PUT -H 'Content-Type: application/json' -d '{"memberName":"${DEMO_MEMBER}"}' ${member}`,
    getBindings: `kubectl get rolebinding -n ${DEMO_NAMESPACE} -o wide`,
    removeMember: `${curl} -X DELETE ${member}`,
    showRole: `${curl} ${input.zmsUrl}/domain/${domain}/role/${DEMO_ROLE}`,
  };
}

export function renderGuide(input: GuideInput, guide: Guide): string {
  const domain = `${input.parentDomain}.${DEMO_NAMESPACE}`;
  const lines = [
    'Point kubectl at the sandbox:',
    ...guide.exports.map((l) => `  ${l}`),
    `  ${guide.getMappings}`,
    '',
    `Give ${DEMO_MEMBER} view access to namespace ${DEMO_NAMESPACE} through Athenz (${domain}:role.${DEMO_ROLE}):`,
    `  ${guide.addMember}`,
    '',
    `Watch it arrive in the RoleBinding (within the mapping's syncInterval):`,
    `  ${guide.getBindings}`,
    '',
    'Take it away again:',
    `  ${guide.removeMember}`,
    '',
    'The role as ZMS sees it:',
    `  ${guide.showRole}`,
    '',
  ];
  if (input.operator) {
    lines.push(
      `Operator (pid ${input.operator.pid}):`,
      `  logs:     tail -f ${shellQuote(input.operator.logPath)}`,
      `  metrics:  curl -s ${input.operator.metricsUrl} | grep -E '^(athenz|controller_runtime|workqueue)_'`,
      `  health:   curl -s ${input.operator.healthUrl}/readyz`,
    );
  } else {
    lines.push(
      'No operator was started (--no-operator). Run it from source in another terminal:',
      `  source ${shellQuote(input.envFile)} && make run`,
    );
  }
  lines.push(
    `ZMS test server: ${input.zmsUrl}${input.zmsAdminUrl ? ` (admin API ${input.zmsAdminUrl}/admin/info: faults, counters, clock)` : ''}`,
    `All of the above as environment variables (also for make run): source ${shellQuote(input.envFile)}`,
  );
  return lines.join('\n');
}

/** `export` lines for `make run` and a shell: the operator's flags as environment variables. */
export function envFileText(
  input: GuideInput,
  operatorCert: { certPath: string; keyPath: string },
  namespace: string,
): string {
  const q = shellQuote;
  return [
    '# Written by hack/sandbox.ts; valid while that sandbox runs.',
    ...guideCommands(input).exports,
    `export ZMS_URL=${q(input.zmsUrl)}`,
    `export ZMS_CERT_FILE=${q(operatorCert.certPath)}`,
    `export ZMS_KEY_FILE=${q(operatorCert.keyPath)}`,
    `export ZMS_CA_FILE=${q(input.caPath)}`,
    `export POD_NAMESPACE=${q(namespace)}`,
    '',
  ].join('\n');
}
