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
  alreadyMember: () =>
    single(
      400,
      errorItem(
        'already_a_member_in_organization',
        'already a member',
        'The user is already a member of this organization.',
      ),
    ),
  duplicateInvitation: () =>
    single(
      400,
      errorItem(
        'duplicate_record',
        'duplicate invitation',
        'There is already a pending invitation for this email address in this organization.',
      ),
    ),
  invitationNotPending: () =>
    single(
      400,
      errorItem(
        'organization_invitation_not_pending',
        'invitation is not pending',
        'Only pending organization invitations can be changed.',
      ),
    ),
  identifierExists: (param: string) =>
    single(
      422,
      errorItem('form_identifier_exists', 'is taken', `That ${param} is taken. Please try another.`, {
        param_name: param,
      }),
    ),
  quotaExceeded: () =>
    single(
      403,
      errorItem(
        'organization_membership_quota_exceeded',
        'membership quota exceeded',
        'You have reached the limit of members for this organization.',
      ),
    ),
};
