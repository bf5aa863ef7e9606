import { z } from 'zod';

/**
 * Schemas of the request bodies, as the ZMS RDL types define them. Unknown fields are dropped
 * (ZMS ignores them); `null` is accepted wherever a field is optional. Timestamps become epoch
 * milliseconds. Name patterns are checked by the routes, which know the messages ZMS uses.
 */

const optional = <T extends z.ZodType>(schema: T) => schema.nullish().transform((v) => v ?? undefined);

const timestamp = z.string().transform((value, ctx) => {
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) {
    ctx.addIssue({ code: 'custom', message: `invalid timestamp: ${value}` });
    return z.NEVER;
  }
  return ms;
});

const tags = z.record(z.string(), z.object({ list: z.array(z.string()) }));
const int = z.number().int();

const domainMeta = {
  description: optional(z.string()),
  org: optional(z.string()),
  enabled: optional(z.boolean()),
  auditEnabled: optional(z.boolean()),
  account: optional(z.string()),
  ypmId: optional(int),
  applicationId: optional(z.string()),
  certDnsDomain: optional(z.string()),
  memberExpiryDays: optional(int),
  serviceExpiryDays: optional(int),
  groupExpiryDays: optional(int),
  tokenExpiryMins: optional(int),
  roleCertExpiryMins: optional(int),
  serviceCertExpiryMins: optional(int),
  userAuthorityFilter: optional(z.string()),
  businessService: optional(z.string()),
  productId: optional(z.string()),
  environment: optional(z.string()),
  tags: optional(tags),
};

export const TopLevelDomainBody = z.object({
  ...domainMeta,
  name: z.string(),
  adminUsers: z.array(z.string()).min(1, 'at least one admin user is required'),
});
export type TopLevelDomainBody = z.infer<typeof TopLevelDomainBody>;

export const SubDomainBody = TopLevelDomainBody.extend({ parent: z.string() });

const entityMeta = {
  description: optional(z.string()),
  auditEnabled: optional(z.boolean()),
  selfServe: optional(z.boolean()),
  reviewEnabled: optional(z.boolean()),
  memberExpiryDays: optional(int),
  serviceExpiryDays: optional(int),
  groupExpiryDays: optional(int),
  memberReviewDays: optional(int),
  serviceReviewDays: optional(int),
  tokenExpiryMins: optional(int),
  certExpiryMins: optional(int),
  notifyRoles: optional(z.string()),
  userAuthorityFilter: optional(z.string()),
  userAuthorityExpiration: optional(z.string()),
  tags: optional(tags),
};

const memberEntry = z.object({
  memberName: z.string(),
  expiration: optional(timestamp),
  reviewReminder: optional(timestamp),
});

export const RoleBody = z.object({
  ...entityMeta,
  name: z.string(),
  roleMembers: optional(z.array(memberEntry)),
  /** Deprecated list of plain member names, still accepted by ZMS. */
  members: optional(z.array(z.string())),
  trust: optional(z.string()),
});
export type RoleBody = z.infer<typeof RoleBody>;

export const MembershipBody = z.object({
  memberName: z.string(),
  roleName: optional(z.string()),
  expiration: optional(timestamp),
  reviewReminder: optional(timestamp),
});

export const GroupMembershipBody = z.object({
  memberName: z.string(),
  groupName: optional(z.string()),
  expiration: optional(timestamp),
});

export const GroupBody = z.object({
  ...entityMeta,
  name: z.string(),
  groupMembers: optional(z.array(memberEntry)),
});
export type GroupBody = z.infer<typeof GroupBody>;

export const PolicyBody = z.object({
  name: z.string(),
  assertions: z.array(
    z.object({
      role: z.string(),
      resource: z.string(),
      action: z.string(),
      effect: optional(z.enum(['ALLOW', 'DENY'])),
    }),
  ),
});

/** Meta a client may set on a role or group (everything but name and members). */
export type EntityMetaBody = { [K in keyof typeof entityMeta]?: z.infer<(typeof entityMeta)[K]> };

/** Drops undefined fields so stored records carry only what was set. */
export function definedOnly<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
