import { z } from 'zod';
import { parseDuration } from './duration.ts';
import { DOMAIN_NAME, ENTITY_NAME, MAX_DOMAIN_NAME_LENGTH } from './principals.ts';

/**
 * The AthenzRoleMapping spec as the operator reads it: parsed once, when it leaves the
 * informer, with every default applied. The CRD (crds/) enforces the same rules with OpenAPI and
 * CEL; this schema is the last line for objects the API server stored under an older CRD.
 */
/** Kubernetes label syntax: an optional DNS-subdomain prefix and `/`, then a name of at most 63
 * characters; values are empty or such a name. The CRD checks the same (CEL and patterns). */
const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_PREFIX = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;

export function isLabelKey(key: string): boolean {
  const slash = key.lastIndexOf('/');
  if (slash === -1) return LABEL_NAME.test(key);
  const prefix = key.slice(0, slash);
  return prefix.length <= 253 && LABEL_PREFIX.test(prefix) && LABEL_NAME.test(key.slice(slash + 1));
}

const keyProblem = (key: unknown) =>
  `${JSON.stringify(key)} is not a valid label key (an optional DNS prefix and "/", then at most 63 letters, digits, "-", "_" or ".", starting and ending with a letter or digit)`;
const labelKey = z.string().refine(isLabelKey, { error: (issue) => keyProblem(issue.input) });
const labelValue = z.string().refine((v) => LABEL_VALUE.test(v), {
  error: (issue) =>
    `${JSON.stringify(issue.input)} is not a valid label value (at most 63 letters, digits, "-", "_" or ".", starting and ending with a letter or digit)`,
});

const labelSelectorSchema = z.object({
  matchLabels: z
    .record(z.string(), labelValue)
    .superRefine((labels, ctx) => {
      for (const key of Object.keys(labels)) {
        if (!isLabelKey(key)) ctx.addIssue({ code: 'custom', path: [key], message: keyProblem(key) });
      }
    })
    .optional(),
  matchExpressions: z
    .array(
      z.object({
        key: labelKey,
        operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist']),
        values: z.array(labelValue).optional(),
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
      userPrefix: z
        .string()
        .default('')
        .refine((p) => !p.toLowerCase().startsWith('system:'), {
          message:
            'userPrefix must not start with "system:": Kubernetes reserves that space for its own identities (nodes, ServiceAccounts, controllers)',
        }),
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
