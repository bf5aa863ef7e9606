/** The labels, annotations, finalizer and Athenz tag through which the operator recognises what
 * it owns. Changing any of these strands the objects written under the old value. */
export const OPERATOR_NAME = 'athenz-rbac-operator';
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MAPPING_LABEL = 'rbac.athenz.io/mapping';
export const ATHENZ_DOMAIN_ANNOTATION = 'rbac.athenz.io/athenz-domain';
export const ATHENZ_ROLE_ANNOTATION = 'rbac.athenz.io/athenz-role';
export const FINALIZER = 'rbac.athenz.io/cleanup';
/** Label selector for every RoleBinding the operator manages. */
export const MANAGED_SELECTOR = `${MANAGED_BY_LABEL}=${OPERATOR_NAME}`;
/** ZMS domain tag marking a subdomain this operator created (value: the mapping's name). Only
 * such domains are ever deleted, and only with `onNamespaceDelete: Delete`. */
export const CREATED_BY_TAG = 'athenz-rbac-operator.created-by';
