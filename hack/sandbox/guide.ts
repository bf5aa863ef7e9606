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
  /** The folder of `zms-cli` (hack/athenz-tools.sh). */
  athenzToolsDir: string;
  zmsUrl: string;
  zmsAdminUrl: string | undefined;
  adminCertPath: string;
  adminKeyPath: string;
  caPath: string;
  parentDomain: string;
  envFile: string;
  /** When the guide's temporary membership ends (an hour after the sandbox started). */
  temporaryUntil: Date;
  operator?: { logPath: string; metricsUrl: string; healthUrl: string; pid: number } | undefined;
}

/** One way of changing the demo role: the Athenz way (zms-cli), or its REST API with curl. */
export interface MembershipCommands {
  addMember: string;
  addTemporaryMember: string;
  removeMember: string;
  showRole: string;
}

export interface Guide {
  exports: string[];
  getMappings: string;
  getBindings: string;
  zmsCli: MembershipCommands;
  curl: MembershipCommands;
}

/** Single-quotes a word for a POSIX shell when it needs it. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_./:=@%+,-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

export function guideCommands(input: GuideInput): Guide {
  const q = shellQuote;
  const domain = `${input.parentDomain}.${DEMO_NAMESPACE}`;
  // The format zms-cli documents (yyyy-mm-ddThh:mm:ss.msecZ), which is also how ZMS writes dates.
  const until = input.temporaryUntil.toISOString();
  const zmsCli =
    `zms-cli -i user.athenz_admin -z ${input.zmsUrl} -cert ${q(input.adminCertPath)} ` +
    `-key ${q(input.adminKeyPath)} -c ${q(input.caPath)} -d ${domain}`;
  const curl = `curl -sS --fail-with-body --cert ${q(input.adminCertPath)} --key ${q(input.adminKeyPath)} --cacert ${q(input.caPath)}`;
  const role = `${input.zmsUrl}/domain/${domain}/role/${DEMO_ROLE}`;
  const putMember = (body: string) =>
    `${curl} -X PUT -H 'Content-Type: application/json' -d '${body}' ${role}/member/${DEMO_MEMBER}`;
  return {
    exports: [
      `export KUBECONFIG=${q(input.kubeconfigPath)}`,
      `export PATH=${q(input.assetsDir)}:${q(input.athenzToolsDir)}:$PATH`,
    ],
    getMappings: 'kubectl get arm',
    getBindings: `kubectl get rolebinding -n ${DEMO_NAMESPACE} -o wide`,
    zmsCli: {
      addMember: `${zmsCli} add-member ${DEMO_ROLE} ${DEMO_MEMBER}`,
      addTemporaryMember: `${zmsCli} add-temporary-member ${DEMO_ROLE} ${DEMO_MEMBER} ${until}`,
      removeMember: `${zmsCli} delete-member ${DEMO_ROLE} ${DEMO_MEMBER}`,
      showRole: `${zmsCli} show-role ${DEMO_ROLE}`,
    },
    curl: {
      addMember: putMember(`{"memberName":"${DEMO_MEMBER}"}`),
      addTemporaryMember: putMember(`{"memberName":"${DEMO_MEMBER}","expiration":"${until}"}`),
      removeMember: `${curl} -X DELETE ${role}/member/${DEMO_MEMBER}`,
      showRole: `${curl} ${role}`,
    },
  };
}

export function renderGuide(input: GuideInput, guide: Guide): string {
  const domain = `${input.parentDomain}.${DEMO_NAMESPACE}`;
  const { zmsCli, curl } = guide;
  const lines = [
    'Point kubectl and zms-cli at the sandbox:',
    ...guide.exports.map((l) => `  ${l}`),
    `  ${guide.getMappings}`,
    '',
    `Give ${DEMO_MEMBER} view access to namespace ${DEMO_NAMESPACE} through Athenz (${domain}:role.${DEMO_ROLE}):`,
    `  ${zmsCli.addMember}`,
    '',
    `Watch it arrive in the RoleBinding (within the mapping's syncInterval):`,
    `  ${guide.getBindings}`,
    '',
    'Take it away again:',
    `  ${zmsCli.removeMember}`,
    '',
    `Or give it only until ${input.temporaryUntil.toISOString()} (the operator drops it when it expires):`,
    `  ${zmsCli.addTemporaryMember}`,
    '',
    'The role as ZMS sees it:',
    `  ${zmsCli.showRole}`,
    '',
    'The same through the ZMS REST API with curl (add, add until, remove, show):',
    `  ${curl.addMember}`,
    `  ${curl.addTemporaryMember}`,
    `  ${curl.removeMember}`,
    `  ${curl.showRole}`,
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
