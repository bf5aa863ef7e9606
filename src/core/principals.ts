/**
 * How ZMS classifies a member name (athenz-zms-api.md, "Principal types"), and the name rules
 * the operator checks before it sends a name to ZMS.
 */
const SIMPLE = '[a-zA-Z0-9_][a-zA-Z0-9_-]*';
const COMPOUND = `(?:${SIMPLE}\\.)*${SIMPLE}`;
export const DOMAIN_NAME = new RegExp(`^${COMPOUND}$`);
export const ENTITY_NAME = DOMAIN_NAME;
const MEMBER_NAME = new RegExp(
  `^(?:\\*|${COMPOUND}\\.\\*|${COMPOUND}\\*?|${COMPOUND}:group\\.${COMPOUND}|${COMPOUND}:ext\\..+)$`,
);
export const MAX_DOMAIN_NAME_LENGTH = 128;

export type PrincipalKind = 'user' | 'service' | 'group' | 'wildcard' | 'external' | 'invalid';

export function classifyMember(name: string): PrincipalKind {
  if (!MEMBER_NAME.test(name)) return 'invalid';
  if (name === '*' || name.endsWith('*')) return 'wildcard';
  if (name.includes(':group.')) return 'group';
  if (name.includes(':ext.')) return 'external';
  const dots = name.split('.').length - 1;
  if (dots === 1 && name.startsWith('user.')) return 'user';
  // A service is `<domain>.<service>`: it needs at least one dot to split on.
  return dots >= 1 ? 'service' : 'invalid';
}
