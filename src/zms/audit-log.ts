import type { Logger } from 'winston';
import type { ZmsClient } from './client.ts';

/**
 * The ZMS client with an audit line for every write the operator makes to Athenz (create a
 * domain, create a role, delete a domain): one JSON line on success, a warning on failure, each
 * carrying the reconcile's log context (mapping, reconcileID). Reads pass through untouched.
 */
export function withAuditLog(zms: ZmsClient, log: Logger): ZmsClient {
  async function audited<T>(action: string, fields: Record<string, unknown>, write: () => Promise<T>) {
    try {
      const result = await write();
      log.info('athenz write', { action, ...fields, result: 'ok' });
      return result;
    } catch (err) {
      log.warn('athenz write failed', { action, ...fields, result: 'failed', error: String(err) });
      throw err;
    }
  }
  return {
    ...zms,
    createSubdomain: (parent, name, detail) =>
      audited(
        'CreateDomain',
        { athenzDomain: `${parent}.${name}`, adminUsers: detail.adminUsers, tags: detail.tags },
        () => zms.createSubdomain(parent, name, detail),
      ),
    deleteSubdomain: (parent, name) =>
      audited('DeleteDomain', { athenzDomain: `${parent}.${name}` }, () => zms.deleteSubdomain(parent, name)),
    putRole: (domain, role, members) =>
      audited('CreateRole', { athenzDomain: domain, athenzRole: role, members }, () =>
        zms.putRole(domain, role, members),
      ),
  };
}
