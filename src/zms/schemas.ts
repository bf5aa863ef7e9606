import { z } from 'zod';

/**
 * The shapes of the ZMS responses the operator reads, validated once at the boundary.
 * Conventions of ZMS's JSON (see docs/reference): optional fields are omitted when empty, a
 * required list may come back as `null`, names are lowercase, timestamps are ISO-8601 UTC.
 * Unknown fields are ignored (z.object strips them), so a newer ZMS does not break the client.
 */
const timestamp = z.iso.datetime({ offset: true }).transform((s) => new Date(s));
/** A list ZMS may send as absent or `null`. */
const list = <T extends z.ZodType>(item: T) =>
  z
    .array(item)
    .nullish()
    .transform((v) => v ?? []);

const tags = z.record(z.string(), z.object({ list: list(z.string()) })).nullish();

export const domainSchema = z.object({
  name: z.string().min(1),
  modified: timestamp.optional(),
  enabled: z.boolean().nullish(),
  auditEnabled: z.boolean().nullish(),
  description: z.string().nullish(),
  tags,
});
export type Domain = z.infer<typeof domainSchema>;

export const roleMemberSchema = z.object({
  memberName: z.string().min(1),
  expiration: timestamp.nullish(),
  // ZMS sends `active` only when false and `approved` may be absent: both default to true.
  active: z
    .boolean()
    .nullish()
    .transform((v) => v ?? true),
  approved: z
    .boolean()
    .nullish()
    .transform((v) => v ?? true),
  systemDisabled: z
    .number()
    .int()
    .nullish()
    .transform((v) => v ?? 0),
});
export type RoleMember = z.infer<typeof roleMemberSchema>;

export const roleSchema = z.object({
  /** Full name, `<domain>:role.<role>`. */
  name: z.string().min(1),
  modified: timestamp.nullish(),
  trust: z.string().nullish(),
  roleMembers: list(roleMemberSchema),
  auditEnabled: z.boolean().nullish(),
  tags,
});
export type Role = z.infer<typeof roleSchema>;

export const rolesSchema = z.object({ list: list(roleSchema) });

export const groupMemberSchema = roleMemberSchema;
export const groupSchema = z.object({
  name: z.string().min(1),
  modified: timestamp.nullish(),
  groupMembers: list(groupMemberSchema),
});
export type Group = z.infer<typeof groupSchema>;

export const modifiedDomainsSchema = z.object({
  domains: list(
    z.object({
      domain: z.object({ name: z.string().min(1), modified: timestamp.nullish() }),
    }),
  ),
});

/** The body of a ZMS error, when it is JSON. */
export const domainListSchema = z.object({
  names: list(z.string()),
  next: z.string().nullish(),
});

export const errorBodySchema = z.object({
  code: z.number().int().optional(),
  message: z.string().optional(),
});
