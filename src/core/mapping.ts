import { z } from 'zod';
import { parseDuration } from './duration.ts';
import { DOMAIN_NAME, ENTITY_NAME, MAX_DOMAIN_NAME_LENGTH } from './principals.ts';

/**
 * The AthenzRoleMapping spec as the operator reads it: parsed once, when it leaves the
 * informer, with every default applied. The CRD (crds/) enforces the same rules with OpenAPI and
 * CEL; this schema is the last line for objects the API server stored under an older CRD.
 */
const labelSelectorSchema = z.object({
  matchLabels: z.record(z.string(), z.string()).optional(),
  matchExpressions: z
    .array(
      z.object({
        key: z.string().min(1),
        operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist']),
        values: z.array(z.string()).optional(),
      }),
    )
    .optional(),
});

export const MIN_SYNC_INTERVAL_MS = 2_000;
export const MAX_SYNC_INTERVAL_MS = 3_600_000;

const syncInterval = z
  .string()
  .default('30s')
  .transform((text, ctx) => {
    const ms = parseDuration(text);
    if (ms === undefined || ms < MIN_SYNC_INTERVAL_MS || ms > MAX_SYNC_INTERVAL_MS) {
      ctx.addIssue({
        code: 'custom',
        message: `syncInterval ${JSON.stringify(text)} must be a duration from 2s to 1h`,
      });
      return z.NEVER;
    }
    return ms;
  });

const roleMappingSchema = z.object({
  athenzRole: z
    .string()
    .max(512)
    .regex(ENTITY_NAME, 'athenzRole must be an Athenz entity name')
    .transform((s) => s.toLowerCase()),
  clusterRole: z.string().min(1),
});

export const mappingSpecSchema = z.object({
  parentDomain: z
    .string()
    .max(MAX_DOMAIN_NAME_LENGTH)
    .regex(DOMAIN_NAME, 'parentDomain must be an Athenz domain name')
    .transform((s) => s.toLowerCase()),
  namespaceSelector: labelSelectorSchema.optional(),
  excludedNamespaces: z.array(z.string()).default([]),
  domain: z
    .object({
      create: z.boolean().default(true),
      adminUsers: z.array(z.string().min(1)).default([]),
      onNamespaceDelete: z.enum(['Retain', 'Delete']).default('Retain'),
    })
    .prefault({}),
  roles: z
    .array(roleMappingSchema)
    .min(1)
    .max(50)
    .refine(
      (roles) => new Set(roles.map((r) => r.athenzRole)).size === roles.length,
      'athenzRole must be unique',
    ),
  subjects: z
    .object({
      userPrefix: z.string().default(''),
      services: z.enum(['User', 'Skip']).default('User'),
      groups: z.enum(['Expand', 'Skip']).default('Expand'),
    })
    .prefault({}),
  syncInterval,
  suspend: z.boolean().default(false),
  dryRun: z.boolean().default(false),
});

export type MappingSpec = z.output<typeof mappingSpecSchema>;
export type RoleMapping = MappingSpec['roles'][number];

/** The parts of an AthenzRoleMapping object the operator uses. */
export interface Mapping {
  name: string;
  uid: string;
  generation: number;
  resourceVersion: string;
  creationTimestamp: Date;
  deleting: boolean;
  finalizers: string[];
  /** Undefined when the spec did not parse; `specError` then says why. */
  spec?: MappingSpec;
  specError?: string;
}

export function parseMappingSpec(spec: unknown): { spec: MappingSpec } | { error: string } {
  const parsed = mappingSpecSchema.safeParse(spec);
  if (parsed.success) return { spec: parsed.data };
  return { error: parsed.error.issues.map((i) => `spec.${i.path.join('.')}: ${i.message}`).join('; ') };
}
