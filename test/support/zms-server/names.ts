/**
 * Athenz name rules: the anchored regexes of the ZMS RDL schema, the length limits the server
 * enforces, and how a member name is classified into a principal type. Every name that enters
 * the server is lowercased first (ZMS names are case-insensitive), so the checks here run on
 * lowercase input.
 */

const SIMPLE = '[a-zA-Z0-9_][a-zA-Z0-9_-]*';
const COMPOUND = `(?:${SIMPLE}\\.)*${SIMPLE}`;

const simpleNameRx = new RegExp(`^${SIMPLE}$`);
const compoundNameRx = new RegExp(`^${COMPOUND}$`);
const groupNameRx = new RegExp(`^${COMPOUND}:group\\.${COMPOUND}$`);
const memberNameRx = new RegExp(
  `^(?:\\*|${COMPOUND}\\.\\*|${COMPOUND}\\*?|${COMPOUND}:group\\.${COMPOUND}|${COMPOUND}:ext\\..+)$`,
);

export const DOMAIN_NAME_MAX_LENGTH = 128;
export const ENTITY_NAME_MAX_LENGTH = 512;
/** The domain every `user.<name>` principal lives in. */
export const USER_DOMAIN = 'user';

export const isSimpleName = (name: string): boolean => simpleNameRx.test(name);
/** DomainName, EntityName (role, group and policy names) and ServiceName share this pattern. */
export const isCompoundName = (name: string): boolean => compoundNameRx.test(name);
export const isGroupName = (name: string): boolean => groupNameRx.test(name);

export type PrincipalType = 'everyone' | 'user' | 'service' | 'group' | 'external';

export interface ClassifiedMember {
  type: PrincipalType;
  /** The domain that must exist for the member to be accepted; undefined for `*`. */
  domain: string | undefined;
  /** For a group member: the short group name. */
  group?: string;
  /** A trailing `*` makes the name a prefix wildcard (`user.*`, `sports.api*`, `*`). */
  wildcard: boolean;
}

/**
 * Classifies a (lowercased) member name the way ZMS does, or returns undefined when the name
 * is not a valid MemberName. A name without any dot has no domain to split off and is
 * rejected, as ZMS rejects it.
 */
export function classifyMember(name: string): ClassifiedMember | undefined {
  if (name.length === 0 || name.length > ENTITY_NAME_MAX_LENGTH || !memberNameRx.test(name)) return undefined;
  if (name === '*') return { type: 'everyone', domain: undefined, wildcard: true };
  const groupAt = name.indexOf(':group.');
  if (groupAt > 0) {
    return {
      type: 'group',
      domain: name.slice(0, groupAt),
      group: name.slice(groupAt + ':group.'.length),
      wildcard: false,
    };
  }
  const extAt = name.indexOf(':ext.');
  if (extAt > 0) return { type: 'external', domain: name.slice(0, extAt), wildcard: false };
  const lastDot = name.lastIndexOf('.');
  if (lastDot <= 0) return undefined;
  const wildcard = name.endsWith('*');
  const isUser = name.startsWith(`${USER_DOMAIN}.`) && name.indexOf('.') === lastDot;
  return { type: isUser ? 'user' : 'service', domain: name.slice(0, lastDot), wildcard };
}

/** An authenticated caller: the client certificate's CN, lowercased and split at the last dot. */
export interface Principal {
  fullName: string;
  domain: string;
  name: string;
}

export function principalFromCommonName(commonName: string): Principal | undefined {
  const fullName = commonName.toLowerCase();
  const lastDot = fullName.lastIndexOf('.');
  if (lastDot <= 0 || lastDot === fullName.length - 1) return undefined;
  return { fullName, domain: fullName.slice(0, lastDot), name: fullName.slice(lastDot + 1) };
}

/** Two domain names collide when they are equal once every `.` is read as `-`. */
export const domainConflictKey = (domain: string): string => domain.replaceAll('.', '-');

export const topLevelDomainOf = (domain: string): string => domain.split('.', 1)[0]!;
export const parentDomainOf = (domain: string): string | undefined => {
  const lastDot = domain.lastIndexOf('.');
  return lastDot > 0 ? domain.slice(0, lastDot) : undefined;
};
export const domainDepth = (domain: string): number => domain.split('.').length - 1;

export const fullRoleName = (domain: string, role: string): string => `${domain}:role.${role}`;
export const fullGroupName = (domain: string, group: string): string => `${domain}:group.${group}`;
export const fullPolicyName = (domain: string, policy: string): string => `${domain}:policy.${policy}`;

/**
 * Accepts the short name or the full name `<domain><infix><short>` of an object in `domain`,
 * and returns the short name, or undefined when the name belongs elsewhere.
 */
export function shortObjectName(name: string, domain: string, infix: string): string | undefined {
  const lower = name.toLowerCase();
  const prefix = `${domain}${infix}`;
  if (lower.startsWith(prefix)) return lower.slice(prefix.length);
  return lower.includes(':') ? undefined : lower;
}
