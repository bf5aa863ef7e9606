/** A kubeconfig file for one cluster and one user, authenticated by client certificate or token. */
export function kubeconfigYaml(input: {
  server: string;
  caPath: string;
  user: { clientCertificate: string; clientKey: string } | { token: string };
}): string {
  const user =
    'token' in input.user
      ? { token: input.user.token }
      : { 'client-certificate': input.user.clientCertificate, 'client-key': input.user.clientKey };
  // JSON is valid YAML, and kubectl, helm and client-node all read it.
  return JSON.stringify(
    {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'test', cluster: { server: input.server, 'certificate-authority': input.caPath } }],
      users: [{ name: 'test', user }],
      contexts: [{ name: 'test', context: { cluster: 'test', user: 'test' } }],
      'current-context': 'test',
    },
    null,
    2,
  );
}
