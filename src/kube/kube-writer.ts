import * as k8s from '@kubernetes/client-node';
import { type DesiredRoleBinding, roleBindingManifest } from '../core/bindings.ts';
import type { BindingRef } from '../core/diff.ts';
import type { Mapping } from '../core/mapping.ts';
import type { MappingStatus } from '../core/status.ts';
import { statusOf } from './api-error.ts';
import { GROUP, KIND, PLURAL, VERSION } from './mapping-resource.ts';

/**
 * Every write the operator makes to Kubernetes. RoleBindings and status go through server-side
 * apply under the operator's field manager, sending only the fields it owns, so fields others set
 * survive and a changed field is patched in place (never delete-then-create). Each method is
 * idempotent: repeating it after a lost answer does no harm.
 */
export interface KubeWriter {
  /** Updates a binding this mapping owns (server-side apply, in place). */
  applyRoleBinding(binding: DesiredRoleBinding): Promise<void>;
  /** Creates a binding; 'taken' when an object of that name exists that this mapping does not
   * own (it is then left exactly as it is: the operator never adopts what it did not create). */
  createRoleBinding(binding: DesiredRoleBinding): Promise<'created' | 'taken'>;
  /** Succeeds when the binding is already gone. With `uid`/`resourceVersion` in the ref, deletes
   * only that object at that version: a 409 means it changed since the cache saw it. */
  deleteRoleBinding(ref: BindingRef): Promise<void>;
  applyStatus(mapping: Mapping, status: MappingStatus): Promise<void>;
  /** Replaces the finalizer list, guarded by the mapping's resourceVersion (409 on a race). */
  setFinalizers(mapping: Mapping, finalizers: string[]): Promise<void>;
  recordEvent(event: MappingEvent): Promise<void>;
}

export interface MappingEvent {
  mapping: { name: string; uid: string };
  type: 'Normal' | 'Warning';
  reason: string;
  action: string;
  note: string;
}

/** The API server accepts Events about cluster-scoped objects (like a mapping) only in `default`. */
export const EVENTS_NAMESPACE = 'default';

export function createKubeWriter(
  kubeConfig: k8s.KubeConfig,
  options: { fieldManager: string; instance: string },
): KubeWriter {
  const rbac = kubeConfig.makeApiClient(k8s.RbacAuthorizationV1Api);
  const custom = kubeConfig.makeApiClient(k8s.CustomObjectsApi);
  const events = kubeConfig.makeApiClient(k8s.EventsV1Api);
  const apply = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.ServerSideApply);
  const merge = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
  const { fieldManager } = options;
  const mappingResource = (name: string) => ({ group: GROUP, version: VERSION, plural: PLURAL, name });

  const applyRoleBinding = async (binding: DesiredRoleBinding) => {
    await rbac.patchNamespacedRoleBinding(
      {
        name: binding.name,
        namespace: binding.namespace,
        body: roleBindingManifest(binding),
        fieldManager,
        force: true,
      },
      apply,
    );
  };

  return {
    applyRoleBinding,
    async createRoleBinding(binding) {
      try {
        await rbac.createNamespacedRoleBinding({
          namespace: binding.namespace,
          body: roleBindingManifest(binding),
          fieldManager,
        });
        return 'created';
      } catch (err) {
        if (statusOf(err) !== 409) throw err;
        // Ours after all (the cache had not seen it yet): update it like any other.
        const found = await rbac.readNamespacedRoleBinding({
          name: binding.name,
          namespace: binding.namespace,
        });
        if (!(found.metadata?.ownerReferences ?? []).some((o) => o.uid === binding.mapping.uid))
          return 'taken';
        await applyRoleBinding(binding);
        return 'created';
      }
    },
    async deleteRoleBinding(ref) {
      const preconditions = {
        ...(ref.uid ? { uid: ref.uid } : {}),
        ...(ref.resourceVersion ? { resourceVersion: ref.resourceVersion } : {}),
      };
      await rbac
        .deleteNamespacedRoleBinding({
          name: ref.name,
          namespace: ref.namespace,
          ...(Object.keys(preconditions).length > 0 ? { body: { preconditions } } : {}),
        })
        .catch(ignoreStatus(404));
    },
    async applyStatus(mapping, status) {
      await custom.patchClusterCustomObjectStatus(
        {
          ...mappingResource(mapping.name),
          body: { apiVersion: `${GROUP}/${VERSION}`, kind: KIND, metadata: { name: mapping.name }, status },
          fieldManager,
          force: true,
        },
        apply,
      );
    },
    async setFinalizers(mapping, finalizers) {
      await custom.patchClusterCustomObject(
        {
          ...mappingResource(mapping.name),
          body: { metadata: { finalizers, resourceVersion: mapping.resourceVersion } },
        },
        merge,
      );
    },
    async recordEvent(event) {
      // events.k8s.io wants a MicroTime (six fractional digits); a plain Date is refused.
      const now = new k8s.V1MicroTime();
      await events.createNamespacedEvent({
        namespace: EVENTS_NAMESPACE,
        body: {
          metadata: { generateName: `${event.mapping.name}-` },
          eventTime: now,
          reportingController: `${GROUP}/athenz-rbac-operator`,
          reportingInstance: options.instance,
          action: event.action,
          reason: event.reason,
          type: event.type,
          note: event.note.slice(0, 1024),
          regarding: {
            apiVersion: `${GROUP}/${VERSION}`,
            kind: KIND,
            name: event.mapping.name,
            uid: event.mapping.uid,
          },
        },
      });
    },
  };
}

function ignoreStatus(...codes: number[]) {
  return (err: unknown) => {
    if (!codes.includes(statusOf(err) ?? 0)) throw err;
  };
}
