import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ZmsClock } from './clock.ts';
import type { DomainRecord, GroupRecord, PolicyRecord, RoleRecord } from './model.ts';
import { ZmsStore } from './store.ts';

/**
 * Keeps the store in `<stateDir>/zms-state.json` so that a restarted server (same process or a
 * new one) comes back with the same domains and `modified` stamps. Writes are coalesced: a
 * burst of changes costs one write, done shortly after the burst and always on `flush()`
 * (which `stop()` calls). A crash can lose the last few milliseconds of changes.
 */
export class StateFile {
  readonly path: string;
  #store: ZmsStore | undefined;
  #unsubscribe: (() => void) | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(stateDir: string) {
    mkdirSync(stateDir, { recursive: true });
    this.path = join(stateDir, 'zms-state.json');
  }

  /** The persisted store, or undefined when the folder holds no state yet. */
  load(clock: ZmsClock): ZmsStore | undefined {
    if (!existsSync(this.path)) return undefined;
    return storeFromJson(JSON.parse(readFileSync(this.path, 'utf8')), clock);
  }

  /** Saves `store` now and after each later change to it (replacing any store followed before). */
  follow(store: ZmsStore): void {
    this.#unsubscribe?.();
    this.#store = store;
    this.#unsubscribe = store.onChange(() => this.#schedule());
    this.flush();
  }

  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (!this.#store) return;
    const temporary = `${this.path}.tmp`;
    writeFileSync(temporary, JSON.stringify(storeToJson(this.#store)));
    renameSync(temporary, this.path);
  }

  close(): void {
    this.flush();
    this.#unsubscribe?.();
    this.#store = undefined;
  }

  #schedule(): void {
    if (this.#timer) return;
    this.#timer = setTimeout(() => this.flush(), 25);
    this.#timer.unref();
  }
}

interface SerializedState {
  version: 1;
  lastModified: number;
  domains: unknown[];
}

/** A plain-JSON copy of the store: Maps become arrays of their values. */
export function storeToJson(store: ZmsStore): SerializedState {
  const domains = [...store.domains].map((domain) => ({
    ...domain,
    roles: [...domain.roles.values()].map((role) => ({
      ...role,
      members: [...role.members.values()],
      pending: [...role.pending.values()],
    })),
    groups: [...domain.groups.values()].map((group) => ({ ...group, members: [...group.members.values()] })),
    policies: [...domain.policies.values()],
  }));
  return { version: 1, lastModified: store.clock.lastModified, domains };
}

type Serialized<T, K extends keyof T> = Omit<T, K> & { [P in K]: unknown[] };

export function storeFromJson(state: SerializedState, clock: ZmsClock): ZmsStore {
  const store = new ZmsStore(clock);
  clock.observe(state.lastModified);
  for (const raw of state.domains as Serialized<DomainRecord, 'roles' | 'groups' | 'policies'>[]) {
    const roles = (raw.roles as Serialized<RoleRecord, 'members' | 'pending'>[]).map(
      (role): RoleRecord => ({
        ...role,
        members: byMemberName(role.members),
        pending: byMemberName(role.pending),
      }),
    );
    const groups = (raw.groups as Serialized<GroupRecord, 'members'>[]).map(
      (group): GroupRecord => ({ ...group, members: byMemberName(group.members) }),
    );
    store.insertDomain({
      ...raw,
      roles: new Map(roles.map((role) => [role.name, role])),
      groups: new Map(groups.map((group) => [group.name, group])),
      policies: new Map((raw.policies as PolicyRecord[]).map((policy) => [policy.name, policy])),
    });
  }
  return store;
}

function byMemberName<T extends { memberName: string }>(members: unknown[]): Map<string, T> {
  return new Map((members as T[]).map((member) => [member.memberName, member]));
}
