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
 *
 * Every good answer is also kept as the entry's last good value, which invalidation does not
 * drop: while ZMS cannot answer, `lastGood()` still knows when each member expires, so expiry
 * keeps being honoured through an outage (the only change made from an old answer).
 */

/** What namespace syncing reads: the live cache, or its last good answers during an outage. */
export interface AthenzReader {
  domain(domain: string): Promise<DomainSnapshot>;
  expandedRole(domain: string, role: string, trustDomain: string): Promise<Role | undefined>;
  group(fullName: string, usedBy: string): Promise<readonly RoleMember[] | undefined>;
}

/** Thrown by the last-good reader for something it never saw answered. */
export class NoSnapshotError extends Error {}
export type DomainSnapshot = { exists: false } | { exists: true; roles: ReadonlyMap<string, Role> };

interface Entry<T> {
  value: Promise<T>;
  /** Domains whose change makes this entry stale. */
  dependsOn: Set<string>;
  /** Namespace domains whose bindings were computed from this entry. */
  usedBy: Set<string>;
}

export class AthenzCache implements AthenzReader {
  readonly #zms: ZmsClient;
  readonly #domains = new Map<string, Entry<DomainSnapshot>>();
  readonly #expanded = new Map<string, Entry<Role | undefined>>();
  readonly #groups = new Map<string, Entry<readonly RoleMember[] | undefined>>();
  readonly #lastGood = new Map<string, unknown>();
  /** Set while the change poller cannot reach ZMS: a miss then fails at once, unsent. */
  #unreachable: string | undefined;

  constructor(zms: ZmsClient) {
    this.#zms = zms;
  }

  /** Roles of `domain` with their standard members; `{exists:false}` only on a verified 404. */
  domain(domain: string): Promise<DomainSnapshot> {
    return this.#cached('domain', this.#domains, domain, async () => {
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
      'expanded',
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
    return this.#cached('group', this.#groups, fullName, load, [domain], usedBy);
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

  /** While ZMS is known to be unreachable, misses fail at once instead of each waiting for a
   * timeout: a reconcile over 1,000 namespaces then takes milliseconds, not minutes. */
  setUnreachable(reason: string | undefined): void {
    this.#unreachable = reason;
  }

  invalidateAll(): void {
    this.#domains.clear();
    this.#expanded.clear();
    this.#groups.clear();
  }

  /** Domains under `prefix` whose last good answer said they exist. */
  knownDomains(prefix: string): string[] {
    const known: string[] = [];
    for (const [key, value] of this.#lastGood) {
      if (!key.startsWith(`domain\u0000${prefix}`)) continue;
      if ((value as DomainSnapshot).exists) known.push(key.slice('domain\u0000'.length));
    }
    return known;
  }

  /** A reader over the last good answers only: it never calls ZMS. */
  lastGood(): AthenzReader {
    const read = <T>(key: string): Promise<T> =>
      this.#lastGood.has(key)
        ? Promise.resolve(this.#lastGood.get(key) as T)
        : Promise.reject(new NoSnapshotError(`no earlier answer from ZMS for ${key}`));
    return {
      domain: (domain) => read(`domain\u0000${domain}`),
      expandedRole: (domain, role) => read(`expanded\u0000${domain}:role.${role}`),
      group: (fullName) => read(`group\u0000${fullName}`),
    };
  }

  #cached<T>(
    kind: string,
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
    if (this.#unreachable !== undefined) {
      return Promise.reject(
        new ZmsError('Unavailable', kind, `not sent: ZMS is unreachable (${this.#unreachable})`),
      );
    }
    const value = load();
    const entry = { value, dependsOn: new Set(dependsOn), usedBy: new Set([usedBy]) };
    map.set(key, entry);
    value.then(
      (good) => {
        if (map.get(key) === entry) this.#lastGood.set(`${kind}\u0000${key}`, good);
      },
      () => {
        if (map.get(key) === entry) map.delete(key);
      },
    );
    return value;
  }
}

/** `eks.users.team:role.viewers` → `viewers` */
export function shortRoleName(fullName: string): string {
  const i = fullName.indexOf(':role.');
  return i === -1 ? fullName : fullName.slice(i + ':role.'.length);
}
