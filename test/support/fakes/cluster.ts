import { randomUUID } from 'node:crypto';
import type { ClusterView } from '../../../src/controller/reconciler.ts';
import { type ExistingRoleBinding, roleBindingManifest } from '../../../src/core/bindings.ts';
import { type Mapping, parseMappingSpec } from '../../../src/core/mapping.ts';
import type { NamespaceInfo } from '../../../src/core/selection.ts';
import type { MappingStatus } from '../../../src/core/status.ts';
import type { KubeWriter, MappingEvent } from '../../../src/kube/kube-writer.ts';

/**
 * An in-memory cluster for unit tests of the reconciler: the KubeWriter it writes through and the
 * ClusterView it reads from share one store, as the informers and the API server do. Writes can
 * be made to fail (`failWrites`), and each records what it was asked (`writes`).
 */
type StoredMapping = Mapping & { status?: Partial<MappingStatus> };

export class FakeCluster {
  readonly bindings = new Map<string, ExistingRoleBinding & { uid: string; resourceVersion: string }>();
  readonly mappings = new Map<string, StoredMapping>();
  readonly namespaces = new Map<string, NamespaceInfo & { uid: string }>();
  readonly events: MappingEvent[] = [];
  readonly writes: Array<{ verb: string; key: string; body?: unknown }> = [];
  clusterUid: string | undefined = 'cluster-0001';
  #version = 100;
  #failing: Array<{ verb: 'apply' | 'delete' | 'status'; key?: string; error: () => Error }> = [];

  addNamespace(name: string, labels: Record<string, string> = {}): this {
    this.namespaces.set(name, { name, labels, terminating: false, uid: randomUUID() });
    return this;
  }

  addMapping(name: string, spec: unknown, options: { created?: Date; uid?: string } = {}): StoredMapping {
    const parsed = parseMappingSpec(spec);
    if (!('spec' in parsed)) throw new Error(`fake cluster: invalid spec: ${parsed.error}`);
    const mapping: StoredMapping = {
      name,
      uid: options.uid ?? randomUUID(),
      generation: 1,
      resourceVersion: String(this.#version++),
      creationTimestamp: options.created ?? new Date('2026-01-01T00:00:00Z'),
      deleting: false,
      finalizers: ['rbac.athenz.io/cleanup'],
      spec: parsed.spec,
    };
    this.mappings.set(name, mapping);
    return mapping;
  }

  /** A spec edit, as `kubectl apply` would make it: the generation moves. */
  updateSpec(name: string, spec: unknown): this {
    const parsed = parseMappingSpec(spec);
    const stored = this.mappings.get(name);
    if (!stored || !('spec' in parsed)) throw new Error(`fake cluster: cannot update ${name}`);
    stored.spec = parsed.spec;
    stored.generation++;
    return this;
  }

  /** Makes writes of `verb` (to the binding `<ns>/<name>`, or any) fail until `heal`. */
  failWrites(verb: 'apply' | 'delete' | 'status', key?: string, error: () => Error = apiError(500)): this {
    this.#failing.push({ verb, ...(key ? { key } : {}), error });
    return this;
  }

  heal(): this {
    this.#failing = [];
    return this;
  }

  binding(key: string) {
    return this.bindings.get(key);
  }

  statusOf(name: string): Partial<MappingStatus> | undefined {
    return this.mappings.get(name)?.status;
  }

  condition(name: string, type: string) {
    return this.statusOf(name)?.conditions?.find((c) => c.type === type);
  }

  view(): ClusterView {
    return {
      mapping: (name) => this.mappings.get(name),
      mappings: () => [...this.mappings.values()],
      namespaces: () => [...this.namespaces.values()],
      namespaceUid: (name) => {
        const ns = this.namespaces.get(name);
        return ns && !ns.terminating ? ns.uid : undefined;
      },
      bindingsOf: (mappingName) => {
        const uid = this.mappings.get(mappingName)?.uid;
        return [...this.bindings.values()].filter((b) => uid !== undefined && b.ownerUids.includes(uid));
      },
      clusterId: () => this.clusterUid,
    };
  }

  writer(): KubeWriter {
    const writer: KubeWriter = {
      applyRoleBinding: async (binding) => {
        const key = `${binding.namespace}/${binding.name}`;
        this.#check('apply', key);
        const manifest = roleBindingManifest(binding);
        const before = this.bindings.get(key);
        this.writes.push({ verb: 'apply', key, body: manifest });
        this.bindings.set(key, {
          namespace: binding.namespace,
          name: binding.name,
          labels: { ...before?.labels, ...manifest.metadata.labels },
          annotations: { ...before?.annotations, ...manifest.metadata.annotations },
          roleRef: { ...manifest.roleRef },
          subjects: manifest.subjects.map((s) => ({ ...s })),
          ownerUids: manifest.metadata.ownerReferences.map((o) => o.uid),
          uid: before?.uid ?? randomUUID(),
          resourceVersion: String(this.#version++),
        });
      },
      createRoleBinding: async (binding) => {
        const key = `${binding.namespace}/${binding.name}`;
        const have = this.bindings.get(key);
        if (have && !have.ownerUids.includes(binding.mapping.uid)) {
          this.writes.push({ verb: 'create-refused', key });
          return 'taken';
        }
        await writer.applyRoleBinding(binding);
        return 'created';
      },
      deleteRoleBinding: async (ref) => {
        const key = `${ref.namespace}/${ref.name}`;
        this.#check('delete', key);
        this.writes.push({
          verb: 'delete',
          key,
          body: { uid: ref.uid, resourceVersion: ref.resourceVersion },
        });
        const have = this.bindings.get(key);
        if (!have) return;
        if (
          (ref.uid && ref.uid !== have.uid) ||
          (ref.resourceVersion && ref.resourceVersion !== have.resourceVersion)
        ) {
          throw apiError(409, 'Conflict', 'Precondition failed')();
        }
        this.bindings.delete(key);
      },
      applyStatus: async (mapping, status) => {
        this.#check('status', mapping.name);
        this.writes.push({ verb: 'status', key: mapping.name, body: status });
        const stored = this.mappings.get(mapping.name);
        if (stored) stored.status = structuredClone(status);
      },
      setFinalizers: async (mapping, finalizers) => {
        const stored = this.mappings.get(mapping.name);
        if (stored) stored.finalizers = finalizers;
      },
      recordEvent: async (event) => {
        this.events.push(event);
      },
    };
    return writer;
  }

  /** A binding someone else made, as the API server would hold it. */
  put(binding: ExistingRoleBinding): this {
    this.bindings.set(`${binding.namespace}/${binding.name}`, {
      ...binding,
      uid: binding.uid ?? randomUUID(),
      resourceVersion: binding.resourceVersion ?? String(this.#version++),
    });
    return this;
  }

  #check(verb: 'apply' | 'delete' | 'status', key: string) {
    const failing = this.#failing.find((f) => f.verb === verb && (!f.key || f.key === key));
    if (failing) throw failing.error();
  }
}

/** An error shaped like client-node's ApiException. */
export function apiError(code: number, reason = 'InternalError', message = 'etcdserver: request timed out') {
  return () =>
    Object.assign(new Error(`HTTP-Code: ${code}`), {
      code,
      body: JSON.stringify({ kind: 'Status', code, reason, message }),
    });
}
