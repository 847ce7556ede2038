/**
 * POST /webhooks/clerk, the HTTP side of webhooks: checks the Svix headers before reading a byte of the body, reads
 * it (bounded), verifies its signature, drops deliveries already processed (here, or on another replica), and hands
 * the event's effects to the effect applier (./apply-effects.ts). It answers once they are applied (so a 2xx means
 * the next query already sees them) and never waits on Clerk: invalidated copies are re-read in the background.
 *
 * Traces: the delivery's event type and outcome go on its HTTP span (src/http/handler.ts); applying its effects is a
 * span of its own (`webhook.apply organizationMembership.updated`) with what they were (counts, the organizations
 * touched: IDs only, never the payload).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { trace } from '@opentelemetry/api';
import { LRUCache } from 'lru-cache';
import { Webhook, WebhookVerificationError } from 'svix';
import { asClerkEvent, effectsOf, MalformedEventError } from '../clerk/events.js';
import type { Logger } from '../observability/logger.js';
import type { EventEffects, WebhookSharing } from '../team/effects.js';
import type { EffectApplier } from './apply-effects.js';

export const WEBHOOK_PATH = '/webhooks/clerk';
/** Clerk's events are a few KiB; the largest (an organization with much metadata) stay far below this. */
export const WEBHOOK_MAX_BODY_BYTES = 1024 * 1024;
/** Svix retries one message for about a day; remember IDs that long (bounded). */
export const DEDUPE_WINDOW_MS = 24 * 60 * 60 * 1000;
const DEDUPE_MAX_IDS = 100_000;

const tracer = trace.getTracer('team-graphql/webhooks');
/** Organizations named on a span at most (a `*` invalidation touches every cached one). */
const TRACED_ORGANIZATIONS = 20;

/** Applies a delivery's effects inside a span that says what they were. */
function applyTraced(apply: () => string[], eventType: string, effects: EventEffects): string[] {
  return tracer.startActiveSpan(`webhook.apply ${eventType}`, (span) => {
    try {
      const touched = apply();
      if (span.isRecording()) {
        span.setAttributes({
          'clerk.webhook.event_type': eventType,
          'team.effects.invalidations': effects.invalidations.length,
          'team.effects.revocations': effects.revocations.length,
          'team.effects.patches': (effects.patches ?? []).length,
          'team.effects.ended_sessions': (effects.endedSessions ?? []).length,
          'team.organizations_touched': touched.slice(0, TRACED_ORGANIZATIONS),
        });
      }
      return touched;
    } finally {
      span.end();
    }
  });
}

export type WebhookOutcome = 'processed' | 'duplicate' | 'ignored';

/**
 * What the route needs from the HTTP layer before it reads a body: the server's guard over unfinished bodies (their
 * idle timeout and shared budget) admits it, or answers the request itself. Asked only after the Svix headers passed,
 * so an anonymous sender cannot take any of that budget.
 */
export interface BodyAdmission {
  /** True: read the body. False: the request has been answered (503, the budget is full) and must be left alone. */
  admit(request: IncomingMessage, response: ServerResponse, maxBytes: number): boolean;
}

export interface WebhookRouteOptions {
  /**
   * The endpoint's signing secret (CLERK_WEBHOOK_SIGNING_SECRET). Undefined: the route answers 503 and freshness
   * relies on the TTL alone. @default none: required (may be undefined)
   */
  signingSecret: string | undefined;
  /**
   * Applies each new delivery's effects before the route answers (the same applier the Redis bus uses).
   * @default none: required
   */
  effects: Pick<EffectApplier, 'apply'>;
  /** Admits a body before a byte of it is read. @default none: required */
  bodies: BodyAdmission;
  /** Where a failed delivery (answered 500) is reported, and each delivery at debug level. @default none: required */
  logger: Logger;
  /** Several replicas (src/shared-state/): dedupe across replicas, and effects told to the others. @default none */
  shared?: WebhookSharing;
}

export interface WebhookRoute {
  handle(request: IncomingMessage, response: ServerResponse): void;
  /** Deliveries by event type and outcome, e.g. `organizationMembership.created processed` → 3. */
  outcomes(): Map<string, number>;
}

class BodyTooLargeError extends Error {}
/** The body did not arrive: the client went away, or stalled and the body guard dropped it. */
class BodyLostError extends Error {}

function readBody(request: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const declared = Number(request.headers['content-length']);
    if (declared > limit) return reject(new BodyTooLargeError());
    const chunks: Buffer[] = [];
    let received = 0;
    request.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received > limit) {
        request.removeAllListeners('data');
        request.resume(); // drain the rest without keeping it
        reject(new BodyTooLargeError());
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', () => reject(new BodyLostError()));
    // Ended before its end (the socket closed): no 'end' will come.
    request.on('close', () => {
      if (!request.complete) reject(new BodyLostError());
    });
  });
}

function reply(
  response: ServerResponse,
  status: number,
  body: Record<string, unknown>,
  headers: Record<string, string> = {},
) {
  if (response.headersSent) return;
  response.writeHead(status, { 'content-type': 'application/json', ...headers });
  response.end(JSON.stringify(body));
}

/** The event type for counting, before the event is checked (a duplicate is counted under its own type). */
const eventTypeOf = (payload: unknown): string => {
  const type =
    typeof payload === 'object' && payload !== null ? (payload as { type?: unknown }).type : undefined;
  return typeof type === 'string' && /^[\w.]{1,64}$/.test(type) ? type : 'unknown';
};

const header = (request: IncomingMessage, name: string): string => {
  const value = request.headers[name];
  return Array.isArray(value) ? (value[0] ?? '') : (value ?? '');
};

const svixHeaders = (request: IncomingMessage) => ({
  'svix-id': header(request, 'svix-id'),
  'svix-timestamp': header(request, 'svix-timestamp'),
  'svix-signature': header(request, 'svix-signature'),
});

/**
 * Svix's own timestamp tolerance (its `verify` refuses a delivery dated further from our clock than this): the
 * same bound, checked before the body is read.
 */
const SVIX_TOLERANCE_MS = 5 * 60 * 1000;

/**
 * Whether a delivery's Svix headers could belong to a valid delivery, before its body is read: all three present,
 * the timestamp a number within Svix's tolerance. These are the checks `verify` makes before the signature, so an
 * anonymous sender cannot make us read (and hold) a body at all; the signature itself needs the body.
 */
function plausibleHeaders(request: IncomingMessage, now: number): boolean {
  const headers = svixHeaders(request);
  if (!headers['svix-id'] || !headers['svix-signature'] || !/^\d{1,12}$/.test(headers['svix-timestamp']))
    return false;
  return Math.abs(now - Number(headers['svix-timestamp']) * 1000) <= SVIX_TOLERANCE_MS;
}

export function createWebhookRoute(options: WebhookRouteOptions): WebhookRoute {
  const { logger } = options;
  const webhook = options.signingSecret ? new Webhook(options.signingSecret) : undefined;
  const seenMessageIds = new LRUCache<string, true>({ max: DEDUPE_MAX_IDS, ttl: DEDUPE_WINDOW_MS });
  const outcomes = new Map<string, number>();

  const count = (eventType: string, outcome: string) => {
    // Every delivery is counted once: its HTTP span says the same.
    trace
      .getActiveSpan()
      ?.setAttributes({ 'clerk.webhook.event_type': eventType, 'clerk.webhook.outcome': outcome });
    const key = `${eventType} ${outcome}`;
    outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
  };

  async function handle(request: IncomingMessage, response: ServerResponse) {
    if (request.method !== 'POST') {
      return reply(response, 405, { error: 'Use POST.' }, { allow: 'POST' });
    }
    if (!webhook) {
      return reply(response, 503, {
        error:
          'Webhooks are not configured: set CLERK_WEBHOOK_SIGNING_SECRET to the endpoint secret from Clerk.',
      });
    }
    // Refused before a byte of the body is read; the connection closes, so the rest is never read either.
    if (!plausibleHeaders(request, Date.now())) {
      count('unknown', 'bad_signature');
      return reply(
        response,
        400,
        { error: 'Missing or invalid Svix signature, or a stale timestamp.' },
        { connection: 'close' },
      );
    }
    if (!options.bodies.admit(request, response, WEBHOOK_MAX_BODY_BYTES)) return;
    let body: string;
    try {
      body = await readBody(request, WEBHOOK_MAX_BODY_BYTES);
    } catch (error) {
      if (error instanceof BodyTooLargeError) {
        count('unknown', 'too_large');
        return reply(
          response,
          413,
          { error: `Body exceeds ${WEBHOOK_MAX_BODY_BYTES} bytes.` },
          { connection: 'close' },
        );
      }
      // Nobody to answer (or the body guard already has): not an incident.
      if (error instanceof BodyLostError) return;
      throw error;
    }

    const headers = svixHeaders(request);
    const messageId = headers['svix-id'];
    let payload: unknown;
    try {
      payload = webhook.verify(body, headers);
    } catch (error) {
      // svix verifies the signature first and parses second: a SyntaxError means signed but not JSON.
      const signedButUnparseable =
        error instanceof SyntaxError && !(error instanceof WebhookVerificationError);
      count('unknown', signedButUnparseable ? 'unparseable' : 'bad_signature');
      return reply(response, 400, {
        error: signedButUnparseable
          ? 'Body is not JSON.'
          : 'Missing or invalid Svix signature, or a stale timestamp.',
      });
    }

    let eventType = eventTypeOf(payload);
    if (seenMessageIds.has(messageId)) {
      count(eventType, 'duplicate');
      return reply(response, 200, { status: 'duplicate' satisfies WebhookOutcome });
    }

    let effects: EventEffects;
    try {
      const event = asClerkEvent(payload);
      eventType = event.type;
      effects = effectsOf(event);
    } catch (error) {
      if (!(error instanceof MalformedEventError)) throw error;
      count(eventType, 'malformed');
      return reply(response, 400, { error: error.message });
    }

    // Several replicas: a retry may have reached another replica first (one claim per svix-id across all of them).
    const claim = await options.shared?.claim(messageId);
    if (claim === 'duplicate') {
      seenMessageIds.set(messageId, true);
      count(eventType, 'duplicate');
      return reply(response, 200, { status: 'duplicate' satisfies WebhookOutcome });
    }
    if (claim === 'busy') {
      count(eventType, 'busy');
      return reply(
        response,
        503,
        { error: 'This delivery is being processed by another replica: retry later.' },
        { 'retry-after': '1' },
      );
    }
    const touched = applyTraced(() => options.effects.apply(effects), eventType, effects);
    // Told before the 2xx (bounded by REDIS_TIMEOUT_MS): once Clerk hears back, every replica is on its way to know.
    // Not told: no 2xx, so Clerk retries, and the retry is processed again (applied here twice: harmless).
    if (options.shared && !(await options.shared.applied(effects, touched, messageId))) {
      count(eventType, 'unpublished');
      return reply(
        response,
        503,
        { error: 'Applied here, but the other replicas could not be told (Redis unavailable): retry later.' },
        { 'retry-after': '5' },
      );
    }
    seenMessageIds.set(messageId, true);
    const outcome: WebhookOutcome =
      effects.invalidations.length === 0 &&
      effects.revocations.length === 0 &&
      (effects.patches ?? []).length === 0 &&
      (effects.endedSessions ?? []).length === 0
        ? 'ignored'
        : 'processed';
    count(eventType, outcome);
    logger.debug('webhook', { messageId, eventType, outcome });
    return reply(response, 200, { status: outcome });
  }

  return {
    handle(request, response) {
      handle(request, response).catch((error: unknown) => {
        logger.error('webhook handler failed', { error });
        reply(response, 500, { error: 'Internal error.' });
      });
    },
    outcomes: () => new Map(outcomes),
  };
}
