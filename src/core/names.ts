import { createHash } from 'node:crypto';
import { MAX_DOMAIN_NAME_LENGTH } from './principals.ts';

/**
 * Deterministic names: the Athenz subdomain of a namespace, the namespace of a subdomain, and the
 * RoleBinding that binds one Athenz role. Deterministic names make every reconcile idempotent.
 */

/** `<parentDomain>.<namespace>`, or why it cannot be used. Namespace names (DNS labels) are always
 * valid Athenz simple names; only the length can break the ZMS rules. */
export function subdomainFor(
  parentDomain: string,
  namespace: string,
): { domain: string } | { error: string } {
  const domain = `${parentDomain}.${namespace}`;
  if (domain.length > MAX_DOMAIN_NAME_LENGTH) {
    return { error: `Athenz domain ${domain} is longer than ${MAX_DOMAIN_NAME_LENGTH} characters` };
  }
  return { domain };
}

/** The namespace whose subdomain `domain` is: exactly one level below the parent, never deeper
 * (a nested `<parent>.a.b` must not grant anything in namespace `b`). */
export function namespaceForDomain(parentDomain: string, domain: string): string | undefined {
  const prefix = `${parentDomain}.`;
  if (!domain.startsWith(prefix)) return undefined;
  const rest = domain.slice(prefix.length);
  return rest.length > 0 && !rest.includes('.') ? rest : undefined;
}

const MAX_OBJECT_NAME = 253;

/**
 * `athenz.<role>.<clusterRole>`: readable, and different whenever the ClusterRole changes, so a
 * new roleRef (immutable in Kubernetes) gets a new binding that is created before the old one is
 * deleted. Characters that Kubernetes names do not allow (`_`, `:`) become `-`; when that changed
 * anything, or either name has a dot (`a.b`+`c` and `a`+`b.c` would read alike), a short hash of
 * the original names keeps two different pairs from colliding.
 */
export function roleBindingName(athenzRole: string, clusterRole: string): string {
  const clean = (s: string) => s.toLowerCase().replace(/[^a-z0-9.-]/g, '-');
  const base = `athenz.${clean(athenzRole)}.${clean(clusterRole)}`;
  // A plain name that looks like a hashed one (`-` and 8 hex digits at the end) is hashed too.
  const exact =
    base === `athenz.${athenzRole}.${clusterRole}` &&
    !`${athenzRole}${clusterRole}`.includes('.') &&
    !/-[0-9a-f]{8}$/.test(base);
  if (exact && base.length <= MAX_OBJECT_NAME && /[a-z0-9]$/.test(base)) return base;
  const hash = createHash('sha256').update(`${athenzRole}\u0000${clusterRole}`).digest('hex').slice(0, 8);
  return `${base.slice(0, MAX_OBJECT_NAME - 9).replace(/[.-]+$/, '')}-${hash}`;
}
