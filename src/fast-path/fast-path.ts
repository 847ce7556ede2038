/**
 * The fast path: consulted in the node:http handler before Yoga, for GET and POST /graphql. It replays a prepared
 * response (src/fast-path/prepared-responses.ts) when one exists for this very request and viewer and everything
 * it was built from is still current; otherwise it hands the request to Yoga, asking Yoga to keep its answer.
 * Yoga remains the only thing that executes GraphQL: the fast path replays, it never computes.
 *
 * One deadline and one verification per request: the HTTP layer dates the request at arrival (`requestedAt`,
 * `deadline`) and both paths wait by that deadline; the fast path verifies the token once and hands the outcome
 * (viewer or error) to Yoga with the request, so Yoga never verifies it again.
 *
 * On every request, as through Yoga: the token is verified (the verifier's cache: token → viewer), and before a
 * replay authorization runs again for every organization the answer shows (src/auth/access.ts, same evidence,
 * same revocation records), and the answer's cache entries are read as Yoga would read them (same cache metrics).
 * Authorization is `authorizeOrganization` itself, given the viewer, the revocation records and a team snapshot.
 * Anything that says no, or any doubt (a token that fails, an input that changed), and Yoga answers instead, with
 * its own errors: the fast path never answers an error itself.
 *
 * Headers: the X-Request-ID is set by src/http/handler.ts before either path; everything else is what Yoga sent
 * (CORS included, as `Origin` is part of the key). Metrics and access logs are the handler's, the same for both paths.
 *
 * Traces: each request it looks at is a span, `graphql.replay`, under the HTTP span, with its outcome
 * (`team.fast_path.outcome`: hit, miss, retired, refused, unauthenticated) and the cache reads a replay makes as
 * events. It ends where the fast path's work ends: Yoga's operation span, when Yoga answers, is its sibling.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Context, context, type Span, trace } from '@opentelemetry/api';
import { authorizeOrganization, type TeamEvidence } from '../auth/access.js';
import { type Authentication, authenticate, type TokenVerifier } from '../auth/verifier.js';
import type { Viewer } from '../auth/viewer.js';
import type { CacheKind, CacheRead, ReadOptions, TeamCache } from '../team/cache.js';
import type { Revocations } from '../team/revocations.js';
import type { Roster } from '../team/types.js';
import type { PreparedResponse, PreparedResponses } from './prepared-responses.js';
import { newRecording } from './recorded-reads.js';
import type { PreparedCapture } from './use-prepared-responses.js';

/** Bodies up to this size may have a prepared answer (a team-page request is a few hundred bytes). */
export const PREPARED_BODY_MAX_BYTES = 8 * 1024;

export interface FastPathOptions {
  store: PreparedResponses;
  cache: TeamCache;
  revocations: Pick<Revocations, 'revokedAt'>;
  verifyToken: TokenVerifier;
  /**
   * Yoga's node handler. The request's body, if the fast path read it, is on `request.body` (Yoga reads it there);
   * `authentication` is the fast path's verification of the token, when it made one (Yoga uses it as is).
   */
  yoga(
    request: IncomingMessage,
    response: ServerResponse,
    context: RequestArrival & { prepared?: PreparedCapture; authentication?: Authentication },
  ): unknown;
}

/** What the HTTP layer knows of a request when it arrives: its ID, and its one deadline. */
export interface RequestArrival {
  requestId: string;
  /** When it arrived (epoch ms): what `forceRefresh` means by "after". */
  requestedAt: number;
  /** When it stops waiting (epoch ms): `requestedAt` + `REQUEST_DEADLINE_MS`, for every wait of the request. */
  deadline: number;
}

export type FastPath = (request: IncomingMessage, response: ServerResponse, arrival: RequestArrival) => void;

const tracer = trace.getTracer('team-graphql/fast-path');

/** Who asks, less the token's dates: the answers' `viewer` fields are these; authorization reads the rest anew. */
const viewerKey = (viewer: Viewer | null) =>
  viewer
    ? `${viewer.userId}\u0000${viewer.sessionId}\u0000${viewer.activeOrganizationId}\u0000${viewer.activeOrganizationRole}`
    : '-';

function readBody(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let body: Buffer | undefined;
    let chunks: Buffer[] | undefined;
    request.on('data', (chunk: Buffer) => {
      // Nearly always one chunk: no array, no copy.
      if (!body) body = chunk;
      else {
        chunks ??= [body];
        chunks.push(chunk);
      }
    });
    request.on('end', () => resolve(chunks ? Buffer.concat(chunks) : (body ?? Buffer.alloc(0))));
    request.on('error', reject);
  });
}

interface ReplayTeam extends TeamEvidence {
  /** One of the answer's entries, read as Yoga's loaders read it (the roster authorization peeked, if it did). */
  read(kind: CacheKind, id: string): Promise<CacheRead<unknown>>;
}

/**
 * The team snapshot of a replayed request: what authorization reads (the fresh roster it peeks, the caller's
 * membership list) and then the answer's other entries, each read once, from the cache as Yoga's loaders read them
 * (the same reads, counted the same). A DataLoader per request would cost more than the rest of a replay.
 */
function replayTeam(cache: TeamCache, options: ReadOptions): ReplayTeam {
  const peeked = new Map<string, CacheRead<Roster> | undefined>();
  let memberships: ReturnType<TeamCache['getUserMemberships']> | undefined;
  const peekRoster = (organizationId: string) => {
    if (!peeked.has(organizationId)) peeked.set(organizationId, cache.peekRoster(organizationId));
    return Promise.resolve(peeked.get(organizationId));
  };
  const userMemberships = (userId: string) => {
    memberships ??= cache.getUserMemberships(userId, options);
    return memberships;
  };
  return {
    peekRoster,
    userMemberships,
    // Authorization asks for it when the list is too old to count (a replica that cannot hear the bus).
    refreshUserMemberships(userId, since) {
      const requestedAt = Math.max(options.requestedAt ?? 0, since ?? 0);
      memberships = cache.getUserMemberships(userId, { ...options, forceRefresh: true, requestedAt });
      return memberships;
    },
    read(kind, id) {
      if (kind === 'members' && peeked.get(id)) return peekRoster(id) as Promise<CacheRead<unknown>>;
      return kind === 'members'
        ? cache.getRoster(id, options)
        : kind === 'invitations'
          ? cache.getPendingInvitations(id, options)
          : userMemberships(id);
    },
  };
}

export function createFastPath(options: FastPathOptions): FastPath {
  const { store, cache } = options;

  /** The request's replay span and the context it was started in (the HTTP span's). */
  interface Trail {
    span: Span;
    parent: Context;
  }
  const finish = (trail: Trail, outcome: string) => {
    trail.span.setAttribute('team.fast_path.outcome', outcome);
    trail.span.end();
  };
  /** Yoga answers, in the HTTP span's context: its operation span is the replay span's sibling. */
  const toYoga = (trail: Trail, outcome: string, ...args: Parameters<FastPathOptions['yoga']>): unknown => {
    finish(trail, outcome);
    return context.with(trail.parent, () => options.yoga(...args));
  };

  /**
   * Still current: every input's fresh entry has the same version, and no invitation it lists has expired since.
   * Reads nothing, counts nothing.
   */
  const current = (prepared: PreparedResponse) =>
    Date.now() < prepared.validUntil &&
    prepared.reads.every((read) => cache.peekFreshVersion(read.kind, read.id) === read.version);

  /**
   * Authorization for every organization the answer shows, and the answer's reads, exactly as Yoga's request would
   * make them (the same reads of the same cache); true when all agree with the prepared answer.
   */
  async function allowed(prepared: PreparedResponse, viewer: Viewer | null, arrival: RequestArrival) {
    if (prepared.reads.length === 0) return true;
    const team = replayTeam(cache, {
      requestedAt: arrival.requestedAt,
      deadline: arrival.deadline,
      caller: viewer?.userId,
      priority: 'interactive',
    });
    const access = { viewer, revocations: options.revocations, team };
    try {
      for (const organizationId of prepared.organizations)
        await authorizeOrganization(access, organizationId);
      for (const read of prepared.reads) {
        const now = await team.read(read.kind, read.id);
        if (now.version !== read.version || !now.fromCache || now.stale) return false;
      }
      return true;
    } catch {
      return false;
    }
  }

  /**
   * `handoff` is what Yoga gets if it answers: the arrival, and the verification's outcome once made (also when
   * something fails after it).
   */
  async function serve(
    request: IncomingMessage,
    response: ServerResponse,
    handoff: RequestArrival & { authentication?: Authentication },
    trail: Trail,
  ) {
    let body = '';
    if (request.method === 'POST') {
      const buffer = await readBody(request);
      // Where Yoga's node adapter looks for a body already read.
      (request as IncomingMessage & { body?: Buffer }).body = buffer;
      body = buffer.toString('latin1');
    }
    const authentication = await authenticate(
      options.verifyToken,
      request.headers.authorization,
      handoff.deadline,
    );
    handoff.authentication = authentication;
    // Yoga answers the error as it always does, from this outcome (it does not verify again).
    if (!('viewer' in authentication)) return toYoga(trail, 'unauthenticated', request, response, handoff);
    const { viewer } = authentication;
    const { headers } = request;
    const key = `${request.method} ${request.url}\n${headers.accept ?? ''}\n${headers['content-type'] ?? ''}\n${headers.origin ?? ''}\n${viewerKey(viewer)}\n${body}`;
    const prepared = store.get(key);
    let outcome: 'retired' | 'refused' | 'miss' = 'miss';
    if (prepared) {
      if (!current(prepared)) {
        store.retire(key);
        outcome = 'retired';
      } else if (await allowed(prepared, viewer, handoff)) {
        finish(trail, 'hit');
        if (response.destroyed) return;
        store.count('hit');
        response.writeHead(prepared.status, prepared.headers);
        response.end(prepared.body);
        return;
      } else {
        outcome = 'refused';
      }
    }
    store.count(outcome);
    return toYoga(trail, outcome, request, response, {
      ...handoff,
      prepared: {
        key,
        owner: viewer?.userId ?? '',
        recording: newRecording(),
        generation: store.generation(),
      },
    });
  }

  return (request, response, arrival) => {
    const declared = Number(request.headers['content-length'] ?? 0);
    const eligible =
      request.method === 'GET' ||
      (request.method === 'POST' && declared > 0 && declared <= PREPARED_BODY_MAX_BYTES);
    if (!eligible || (request.url?.length ?? 0) > PREPARED_BODY_MAX_BYTES) {
      return void options.yoga(request, response, arrival);
    }
    const handoff: RequestArrival & { authentication?: Authentication } = { ...arrival };
    const parent = context.active();
    const trail = { span: tracer.startSpan('graphql.replay', undefined, parent), parent };
    context
      .with(trace.setSpan(parent, trail.span), () => serve(request, response, handoff, trail))
      .catch(() => {
        // The body could not be read (the client went away): nothing to answer. Anything else: Yoga answers.
        if (!request.complete) {
          finish(trail, 'abandoned');
          response.destroy();
        } else if (!response.headersSent) toYoga(trail, 'failed', request, response, handoff);
      });
  };
}
