import { PolicyBody } from './bodies.ts';
import { badRequest, notFound, quotaExceeded } from './errors.ts';
import { authorize, checkEntityName, domainForWrite } from './guards.ts';
import {
  defineRoute,
  noContent,
  objectOrNoContent,
  ok,
  type RequestContext,
  readJsonBody,
  validateBody,
} from './http.ts';
import type { AssertionRecord } from './model.ts';
import { fullPolicyName, shortObjectName } from './names.ts';
import { policyJson } from './serialize.ts';

/**
 * Policies, beyond the documented subset but needed for delegated roles: a trust domain
 * grants a role in another domain its members with an `assume_role` assertion. Assertion
 * roles are roles of the policy's own domain; a resource without a domain gets the policy's.
 */

type PolicyParams = { domain: string; policy: string };

function getPolicyList(ctx: RequestContext) {
  const domain = ctx.zms.store.getDomain(ctx.params.domain!);
  if (!domain) throw notFound(`getPolicyList: Domain not found: ${ctx.params.domain}`);
  return ok({ names: [...domain.policies.keys()].sort() });
}

function getPolicy(ctx: RequestContext) {
  const { domain: domainName, policy: policyName } = ctx.params as PolicyParams;
  const policy = ctx.zms.store.getDomain(domainName)?.policies.get(policyName);
  if (!policy) throw notFound(`getPolicy: Policy not found: '${fullPolicyName(domainName, policyName)}'`);
  return ok(policyJson(domainName, policy));
}

function putPolicy(ctx: RequestContext) {
  const { domain: domainName, policy: policyName } = ctx.params as PolicyParams;
  const raw = readJsonBody(ctx, 'Policy');
  const domain = domainForWrite(ctx, domainName);
  authorize(ctx, ['update'], fullPolicyName(domainName, policyName), domainName);
  checkEntityName(ctx, policyName, 'Policy');
  if (policyName === 'admin') throw badRequest('putPolicy: admin policy cannot be modified');
  const body = validateBody(raw, 'Policy', PolicyBody);
  if (shortObjectName(body.name, domainName, ':policy.') !== policyName) {
    throw badRequest(
      `putPolicy: Inconsistent policy names - expected: ${fullPolicyName(domainName, policyName)}, actual: ${body.name}`,
    );
  }
  const { quotas, store } = ctx.zms;
  if (!domain.policies.has(policyName) && domain.policies.size >= quotas.policiesPerDomain) {
    throw quotaExceeded(ctx.api, 'policy', quotas.policiesPerDomain, domain.policies.size);
  }
  if (body.assertions.length > quotas.assertionsPerPolicy) {
    throw quotaExceeded(ctx.api, 'policy assertion', quotas.assertionsPerPolicy, body.assertions.length);
  }
  const assertions: AssertionRecord[] = body.assertions.map((assertion) => {
    const role = assertion.role.toLowerCase();
    const fullRole = role.includes(':role.') ? role : `${domainName}:role.${role}`;
    if (!fullRole.startsWith(`${domainName}:role.`)) {
      throw badRequest(`putPolicy: Assertion role ${assertion.role} is not a role of domain ${domainName}`);
    }
    const resource = assertion.resource.toLowerCase();
    return store.newAssertion(
      fullRole,
      resource.includes(':') ? resource : `${domainName}:${resource}`,
      assertion.action.toLowerCase(),
      assertion.effect ?? 'ALLOW',
    );
  });
  const policy = store.putPolicy(domain, { name: policyName, assertions });
  return objectOrNoContent(ctx, () => policyJson(domainName, policy));
}

function deletePolicy(ctx: RequestContext) {
  const { domain: domainName, policy: policyName } = ctx.params as PolicyParams;
  const domain = domainForWrite(ctx, domainName);
  authorize(ctx, ['delete'], fullPolicyName(domainName, policyName), domainName);
  if (policyName === 'admin') throw badRequest('deletePolicy: admin policy cannot be deleted');
  if (!domain.policies.has(policyName)) {
    throw notFound(`deletePolicy: Policy not found: '${fullPolicyName(domainName, policyName)}'`);
  }
  ctx.zms.store.deletePolicy(domain, policyName);
  return noContent();
}

export const policyRoutes = [
  defineRoute('GET', '/domain/{domain}/policy', 'getPolicyList', getPolicyList),
  defineRoute('GET', '/domain/{domain}/policy/{policy}', 'getPolicy', getPolicy),
  defineRoute('PUT', '/domain/{domain}/policy/{policy}', 'putPolicy', putPolicy),
  defineRoute('DELETE', '/domain/{domain}/policy/{policy}', 'deletePolicy', deletePolicy),
];
