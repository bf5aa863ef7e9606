import type { ZmsClient } from '../zms/client.ts';
import { ZmsError } from '../zms/errors.ts';
import type { Role, RoleMember } from '../zms/schemas.ts';

/**
 * What the operator knows of each Athenz domain, fetched on demand and kept until the change
 * poller says the domain moved (or the periodic full resync). This is what makes a quiet cluster
 * cost one ZMS request per interval: reconciles read the cache, and only a changed domain is
 * fetched again. Entries also remember which other domains they were resolved through (the
 * domains of expanded groups and of delegated roles), so a change there invalidates them too.
 * Concurrent requests for the same entry share one ZMS call. Failures are not cached.
 */
export type DomainSnapshot = { exists: false } | { exists: true; roles: ReadonlyMap<string, Role> };

interface Entry<T> {
  value: Promise<T>;
  /** Domains whose change makes this entry stale. */
  dependsOn: Set<string>;
  /** Namespace domains whose bindings were computed from this entry. */
  usedBy: Set<string>;
}

export class AthenzCache {
  readonly #zms: ZmsClient;
  readonly #domains = new Map<string, Entry<DomainSnapshot>>();
  readonly #expanded = new Map<string, Entry<Role | undefined>>();
  readonly #groups = new Map<string, Entry<readonly RoleMember[] | undefined>>();

  constructor(zms: ZmsClient) {
    this.#zms = zms;
  }

  /** Roles of `domain` with their standard members; `{exists:false}` only on a verified 404. */
  domain(domain: string): Promise<DomainSnapshot> {
    return this.#cached(this.#domains, domain, async () => {
      try {
        const roles = await this.#zms.getRoles(domain);
        return { exists: true, roles: new Map(roles.map((r) => [shortRoleName(r.name), r])) };
      } catch (err) {
        if (!(err instanceof ZmsError) || err.kind !== 'NotFound') throw err;
        // `/roles` says 404 for a missing domain; confirm with the domain itself before acting.
        const found = await this.#zms.getDomain(domain);
        if (found) throw err;
        return { exists: false };
      }
    });
  }

  /** A delegated role resolved through its trust domain (`expand=true`). */
  expandedRole(domain: string, role: string, trustDomain: string): Promise<Role | undefined> {
    const key = `${domain}:role.${role}`;
    return this.#cached(
      this.#expanded,
      key,
      () => this.#zms.getRole(domain, role, { expand: true }),
      [domain, trustDomain],
      domain,
    );
  }

  /** Members of `<domain>:group.<name>`, as used by the namespace domain `usedBy`; undefined
   * when the group does not exist. */
  group(fullName: string, usedBy: string): Promise<readonly RoleMember[] | undefined> {
    const [domain, name] = fullName.split(':group.') as [string, string];
    const load = async () => (await this.#zms.getGroup(domain, name))?.groupMembers;
    return this.#cached(this.#groups, fullName, load, [domain], usedBy);
  }

  /** Drops every entry that depends on `domain`; returns the namespace domains whose bindings
   * were computed from a dropped entry (always including `domain` itself). */
  invalidate(domain: string): Set<string> {
    const stale = new Set<string>([domain]);
    for (const map of [this.#domains, this.#expanded, this.#groups] as Array<Map<string, Entry<unknown>>>) {
      for (const [key, entry] of map) {
        if (!entry.dependsOn.has(domain)) continue;
        map.delete(key);
        for (const d of entry.usedBy) stale.add(d);
      }
    }
    return stale;
  }

  invalidateAll(): void {
    this.#domains.clear();
    this.#expanded.clear();
    this.#groups.clear();
  }

  #cached<T>(
    map: Map<string, Entry<T>>,
    key: string,
    load: () => Promise<T>,
    dependsOn: string[] = [key],
    usedBy = key,
  ): Promise<T> {
    const hit = map.get(key);
    if (hit) {
      hit.usedBy.add(usedBy);
      return hit.value;
    }
    const value = load();
    const entry = { value, dependsOn: new Set(dependsOn), usedBy: new Set([usedBy]) };
    map.set(key, entry);
    value.catch(() => {
      if (map.get(key) === entry) map.delete(key);
    });
    return value;
  }
}

/** `eks.users.team:role.viewers` → `viewers` */
export function shortRoleName(fullName: string): string {
  const i = fullName.indexOf(':role.');
  return i === -1 ? fullName : fullName.slice(i + ':role.'.length);
}
