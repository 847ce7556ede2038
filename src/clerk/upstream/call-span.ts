/**
 * The OpenTelemetry client span of one Clerk call (`clerk memberships`), under whatever span is current (a GraphQL
 * operation, a team action): the route and its URL template, the priority, the last HTTP status, retries, and the
 * time spent queued for the budget; a refusal names its reason. IDs never appear: the template has
 * `{organization_id}`. Without an SDK registered the API hands out no-op spans, and nothing here is recorded.
 */
import { type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import {
  CircuitOpenError,
  OrganizationNotFoundError,
  UpstreamRateLimitedError,
  UpstreamRefusedError,
  UpstreamUnavailableError,
} from '../../team/errors.js';

const tracer = trace.getTracer('team-graphql/clerk');

/** Runs `body` (the call with its retries) as the current span, so the Clerk HTTP request is its child. */
export function inCallSpan<T>(
  route: string,
  urlTemplate: string,
  priority: string,
  body: (span: Span) => Promise<T>,
): Promise<T> {
  return tracer.startActiveSpan(
    `clerk ${route}`,
    {
      kind: SpanKind.CLIENT,
      attributes: { 'clerk.route': route, 'url.template': urlTemplate, 'clerk.priority': priority },
    },
    body,
  );
}

/** Ends a call's span with what happened: its retries and time queued, and how it failed, if it did. */
export function endCallSpan(span: Span, call: { retries: number; queuedMs: number }, error?: unknown): void {
  if (!span.isRecording()) return;
  span.setAttributes({ 'clerk.retries': call.retries, 'clerk.queued_ms': call.queuedMs });
  const status = error === undefined ? 200 : statusOf(error);
  if (status !== undefined) span.setAttribute('http.response.status_code', status);
  if (error instanceof UpstreamRefusedError || error instanceof CircuitOpenError) {
    span.setAttribute('clerk.refused', error instanceof CircuitOpenError ? 'circuit_open' : error.reason);
  }
  if (error !== undefined) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.name : 'error' });
  }
  span.end();
}

/** The HTTP status Clerk answered a failed call with, when it answered. */
function statusOf(error: unknown): number | undefined {
  if (error instanceof UpstreamRefusedError) return undefined;
  if (error instanceof UpstreamRateLimitedError) return 429;
  if (error instanceof OrganizationNotFoundError) return 404;
  if (error instanceof UpstreamUnavailableError) return error.status;
  return undefined;
}
