/** Clerk's error bodies: `{"errors":[{message, long_message, code, meta}], "clerk_trace_id"}`. */
import { traceId } from './ids.js';

export interface ClerkErrorItem {
  message: string;
  long_message: string;
  code: string;
  meta: Record<string, unknown>;
}

/** Thrown by the store and the handlers; the HTTP layer turns it into a Clerk error response. */
export class ClerkApiError extends Error {
  readonly status: number;
  readonly errors: ClerkErrorItem[];
  readonly headers: Record<string, string>;

  constructor(status: number, errors: ClerkErrorItem[], headers: Record<string, string> = {}) {
    super(errors.map((e) => `${e.code}: ${e.long_message}`).join('; '));
    this.name = 'ClerkApiError';
    this.status = status;
    this.errors = errors;
    this.headers = headers;
  }

  get code(): string {
    return this.errors[0]?.code ?? 'unknown';
  }
}

export function errorItem(
  code: string,
  message: string,
  longMessage: string,
  meta: Record<string, unknown> = {},
): ClerkErrorItem {
  return { message, long_message: longMessage, code, meta };
}

export function errorBody(errors: ClerkErrorItem[]): { errors: ClerkErrorItem[]; clerk_trace_id: string } {
  return { errors, clerk_trace_id: traceId() };
}

const single = (status: number, item: ClerkErrorItem, headers?: Record<string, string>) =>
  new ClerkApiError(status, [item], headers);

export const paramItems = {
  missing: (param: string) =>
    errorItem('form_param_missing', 'missing data', `${param} must be included.`, { param_name: param }),
  unknown: (param: string) =>
    errorItem('form_param_unknown', 'is unknown', `${param} is not a valid parameter for this request.`, {
      param_name: param,
    }),
  format: (param: string, expected: string) =>
    errorItem('form_param_format_invalid', 'is invalid', `${param} must be ${expected}.`, {
      param_name: param,
    }),
  value: (param: string, longMessage: string) =>
    errorItem('form_param_value_invalid', 'is invalid', longMessage, { param_name: param }),
};

export const clerkErrors = {
  notFound: () => single(404, errorItem('resource_not_found', 'not found', 'Resource not found')),
  routeNotFound: () =>
    single(404, errorItem('resource_not_found', 'not found', 'The requested resource could not be found.')),
  keyInvalid: () =>
    single(
      401,
      errorItem(
        'clerk_key_invalid',
        'Secret Key is invalid',
        'The provided Clerk Secret Key is invalid. Make sure that your Clerk Secret Key is correct.',
      ),
    ),
  malformed: (detail = 'The request body could not be parsed as JSON.') =>
    single(400, errorItem('malformed_request', 'malformed request', detail)),
  params: (items: ClerkErrorItem[]) => new ClerkApiError(422, items),
  paramMissing: (param: string) => single(422, paramItems.missing(param)),
  paramUnknown: (param: string) => single(422, paramItems.unknown(param)),
  paramFormat: (param: string, expected: string) => single(422, paramItems.format(param, expected)),
  paramValue: (param: string, longMessage: string) => single(422, paramItems.value(param, longMessage)),
  tooManyRequests: (retryAfterSeconds: number) =>
    single(
      429,
      errorItem('too_many_requests', 'Too Many Requests', 'Too many requests, please try again later.'),
      { 'Retry-After': String(retryAfterSeconds) },
    ),
  internal: () =>
    single(
      500,
      errorItem(
        'internal_clerk_error',
        'Oops, an unexpected error occurred',
        "There was an internal error on our servers. We've been notified and are working on fixing it.",
      ),
    ),
  unavailable: () =>
    single(
      503,
      errorItem(
        'service_unavailable',
        'Service unavailable',
        'The service is temporarily unavailable, please try again later.',
      ),
    ),
  /**
   * The organization errors below follow Clerk's Backend API error index
   * (https://clerk.com/docs/guides/development/errors/backend-api, "Organizations" and "Requests").
   */
  alreadyMember: (identifier = 'The user') =>
    single(
      400,
      errorItem(
        'already_a_member_in_organization',
        'already a member',
        `${identifier} is already a member of the organization.`,
      ),
    ),
  /** A second pending invitation to one email address (OrganizationInvitationNotUnique, 400). */
  duplicateInvitation: () =>
    single(
      400,
      errorItem(
        'organization_invitation_not_unique',
        'organization invitation not unique',
        'Organizations cannot have duplicate pending invitations for an email address.',
      ),
    ),
  /**
   * Revoking (or accepting) an invitation that is not pending. Clerk's error index lists
   * OrganizationInvitationNotPending with status 404 (Frontend API index; the Backend API revoke route answers the
   * same code, and its OpenAPI responses list 404).
   */
  invitationNotPending: () =>
    single(
      404,
      errorItem(
        'organization_invitation_not_pending',
        'not pending',
        "The organization invitation is not in the 'pending' status.",
      ),
    ),
  /** Members + pending invitations would exceed `max_allowed_memberships` (OrganizationMembershipQuotaExceeded, 403). */
  quotaExceeded: (max: number) =>
    single(
      403,
      errorItem(
        'organization_membership_quota_exceeded',
        'organization membership quota exceeded',
        `You have reached your limit of ${max} organization memberships, including outstanding invitations.`,
      ),
    ),
  /** A write would leave no member holding org:sys_memberships:manage (OrganizationMinimumPermissionsNeeded, 400). */
  minimumPermissionsNeeded: () =>
    single(
      400,
      errorItem(
        'organization_minimum_permissions_needed',
        'minimum organization permissions needed',
        'There has to be at least one organization member with the minimum required permissions',
      ),
    ),
  /** A role key the instance does not define (OrganizationRoleNotFound, 404 resource_not_found). */
  roleNotFound: (param = 'role') =>
    single(
      404,
      errorItem('resource_not_found', 'not found', 'Organization role not found', { param_name: param }),
    ),
  /** More items than a bulk endpoint takes (BulkSizeExceeded, 400). */
  bulkSizeExceeded: (max: number) =>
    single(
      400,
      errorItem(
        'bulk_size_exceeded',
        'bulk size exceeded',
        `Parameters exceed the maximum allowed bulk processing size of ${max}.`,
      ),
    ),
  /** A body of the wrong shape for the route (InvalidRequestBody, 400). */
  requestBodyInvalid: () =>
    single(
      400,
      errorItem(
        'request_body_invalid',
        'Request body invalid',
        'The request body is invalid. Please consult the API documentation for more information.',
      ),
    ),
  identifierExists: (param: string) =>
    single(
      422,
      errorItem('form_identifier_exists', 'is taken', `That ${param} is taken. Please try another.`, {
        param_name: param,
      }),
    ),
};
