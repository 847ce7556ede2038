/**
 * The Yoga instance: schema, per-request context, GraphiQL and plugins, composed in one place. Each plugin is its
 * own module in plugins/; the assembly (src/app.ts) adds its own (the fast path's) through `plugins` and
 * `cacheFor`, so this layer never imports the layers that call it.
 */
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import { createYoga, type YogaServerInstance, type YogaServerOptions } from 'graphql-yoga';
import type { IdempotencyStore } from '../actions/idempotency.js';
import type { TeamActions } from '../actions/team-actions.js';
import { type Authentication, authenticate, bearerTokenFrom, type TokenVerifier } from '../auth/verifier.js';
import type { Logger } from '../observability/logger.js';
import type { LiveStreams } from '../subscriptions/live-streams.js';
import type { TeamCache } from '../team/cache.js';
import type { Revocations } from '../team/revocations.js';
import type { GraphQLContext } from './context.js';
import { corsPolicy } from './cors.js';
import { toGraphQLError } from './errors.js';
import { type GraphiQLSettings, graphiqlOptions } from './graphiql.js';
import { createTeamLoaders } from './loaders.js';
import { useAnswerSize } from './plugins/use-answer-size.js';
import { useCompiledQueries } from './plugins/use-compiled-queries.js';
import { useDisableIntrospection } from './plugins/use-disable-introspection.js';
import { useIdempotencyKeys } from './plugins/use-idempotency-keys.js';
import { useKnownOperationTypes } from './plugins/use-known-operation-types.js';
import { useOperationSpan } from './plugins/use-operation-span.js';
import { useQueryLimits } from './plugins/use-query-limits.js';
import { useRequestParser } from './plugins/use-request-parser.js';
import { useSharedEvents } from './plugins/use-shared-events.js';
import { useStreamHeaders } from './plugins/use-stream-headers.js';
import { useUnexpectedErrorLog } from './plugins/use-unexpected-error-log.js';
import { useVariableErrors } from './plugins/use-variable-errors.js';
import { schema } from './schema.js';

/** What the HTTP layer hands Yoga with each request. */
export interface ServerContext {
  requestId: string;
  /**
   * When the request arrived and when it stops waiting (epoch ms), dated once by the HTTP layer: token keys and
   * every cache read of the request wait by this one deadline, whichever path began the request.
   * @default now, and now + `requestDeadlineMs` (a request without them: `yoga.fetch`)
   */
  requestedAt?: number;
  deadline?: number;
  /** The fast path's verification of this request's token: used as is, never made again. */
  authentication?: Authentication;
}

/**
 * `Extra`: what the assembly's own plugins add to the server context (the fast path's `prepared`), seen by
 * `cacheFor` and by those plugins.
 */
export interface YogaOptions<Extra extends object = Record<never, never>> {
  cache: TeamCache;
  /** Team actions (mutations). */
  actions: TeamActions;
  /**
   * The cache one request's reads go through, chosen from its server context once the caller is verified: the
   * assembly wraps the cache for requests whose reads must be recorded (the fast path's prepared responses).
   * Live events read `cache` itself.
   * @default `cache` for every request
   */
  cacheFor?(serverContext: ServerContext & Extra): TeamCache;
  /** Removals recorded from webhooks; authorization reads them. */
  revocations: Pick<Revocations, 'revokedAt'>;
  /** This process's live streams (`subscription { teamChanged }`). */
  liveStreams: LiveStreams;
  logger: Logger;
  verifyToken: TokenVerifier;
  /** false turns GraphiQL off (production default). */
  graphiql: GraphiQLSettings | false;
  introspection: boolean;
  /** Origins allowed to call from a browser; empty means same-origin only. */
  corsOrigins: string[];
  /** Also allow any loopback origin (`http://localhost:3000`, …): the zero-config start only. @default false */
  allowLocalhostOrigins?: boolean;
  /** Mask internal error messages (production); in development Yoga adds the original message. */
  production: boolean;
  /**
   * How long one request may wait for Clerk in all (`REQUEST_DEADLINE_MS`), from its arrival: token keys and every
   * cache read of the request share this one deadline.
   */
  requestDeadlineMs: number;
  /**
   * Where the `Idempotency-Key`s of mutations live (src/actions/idempotency.ts): the Redis layer's store with
   * REDIS_URL (a retry on another replica replays), else one in this process.
   */
  idempotencyStore: IdempotencyStore;
  /**
   * The assembly's plugins (the fast path's trusted documents, then its prepared responses), in their order, run
   * right after the request parser and before every plugin of ours: a trusted document is swapped in before
   * anything else reads the request's query.
   * @default [] (plain queries only, no answer kept)
   */
  plugins?: YogaServerOptions<ServerContext & Extra, GraphQLContext>['plugins'];
}

/** A team-page query is well under 1 KiB; Yoga's default (25 MB) only invites abuse. */
export const MAX_REQUEST_BODY_BYTES = 100 * 1024;

export type TeamYoga<Extra extends object = Record<never, never>> = YogaServerInstance<
  ServerContext & Extra,
  GraphQLContext
>;

/** The `exp` of a token already verified (its payload is trusted), as epoch ms; null when it has none. */
function expiryOf(token: string): number | null {
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as {
      exp?: unknown;
    };
    return typeof payload.exp === 'number' ? payload.exp * 1000 : null;
  } catch {
    return null;
  }
}

export function createTeamYoga<Extra extends object = Record<never, never>>(
  options: YogaOptions<Extra>,
): TeamYoga<Extra> {
  const { logger } = options;
  const live: GraphQLContext['live'] = {
    streams: options.liveStreams,
    // An event is like a request arriving: its reads begin now, with a request's deadline, for this caller.
    snapshot(caller) {
      const requestedAt = Date.now();
      return createTeamLoaders(options.cache, {
        requestedAt,
        deadline: requestedAt + options.requestDeadlineMs,
        caller,
      });
    },
  };
  return createYoga<ServerContext & Extra, GraphQLContext>({
    schema,
    graphqlEndpoint: '/graphql',
    landingPage: false,
    maskedErrors: { isDev: !options.production },
    cors: corsPolicy({ origins: options.corsOrigins, allowLocalhostOrigins: options.allowLocalhostOrigins }),
    graphiql: graphiqlOptions(options.graphiql),
    // Assets inlined by @graphql-yoga/render-graphiql: GraphiQL must work with no internet.
    renderGraphiQL,
    // Batched requests would multiply every per-request limit; the frontend has no use for them.
    batching: false,
    // The body limit is enforced in src/http/handler.ts from Content-Length, before Yoga reads anything. Yoga's own
    // limiter pipes every body through a counting stream and aborts it afterwards, ~10% of a cache hit's CPU.
    maxRequestBodySize: false,
    // Yoga's own log lines go through our JSON logger.
    logging: {
      debug: (...args) => logger.debug(String(args[0])),
      info: (...args) => logger.info(String(args[0])),
      warn: (...args) => logger.warn(String(args[0])),
      error: (...args) => logger.error(String(args[0])),
    },
    // Hooks run in list order, and a plugin that stops execution skips the `onExecute` of every plugin after it:
    // order matters only among plugins on the same hook. Each comment says what its place decides.
    plugins: [
      // Sets the request parser in place of Yoga's own, which Yoga registers before any plugin (the last one set
      // is used): case-insensitive media types, 400s.
      useRequestParser(),
      // One span per operation (instrumentation around `execute` / `subscribe`): its place decides nothing.
      useOperationSpan(),
      // The assembly's (the fast path's), first to see the parameters: a trusted document is swapped in before
      // anything else reads the request's query, and prepared responses see every execution, refused ones too.
      ...(options.plugins ?? []),
      // Executors (graphql-jit for queries, graphql-js with shared events for subscriptions): they set how an
      // operation runs, never whether, so their place decides nothing.
      useCompiledQueries(),
      useSharedEvents(),
      // Response headers only (live streams unbuffered by proxies): its place decides nothing.
      useStreamHeaders(),
      // Ahead of the checks that can stop execution, so its onExecuteDone runs for every execution (a refusal's
      // errors carry codes and are not logged).
      useUnexpectedErrorLog({ logger }),
      // graphql-armor's parse and validation limits; its validation rules come before ours (further down).
      useQueryLimits({ hideSuggestions: !options.introspection }),
      // Before execution, in this order: badly typed variables are the caller's input error, then the size of
      // the answer they ask for (which needs the variables).
      useVariableErrors(),
      useAnswerSize(),
      // Our validation rules, after graphql-armor's: the order their errors are listed in.
      useKnownOperationTypes(),
      ...(options.introspection ? [] : [useDisableIntrospection()]),
      // After every check that can refuse an operation before execution (variables, answer size): a refused
      // mutation never takes an idempotency key. Its wait for a running duplicate ends at the request's deadline.
      useIdempotencyKeys({ store: options.idempotencyStore, waitMs: options.requestDeadlineMs }),
    ],
    context: async (initial): Promise<GraphQLContext> => {
      try {
        // One deadline per request, from its arrival; `requestedAt` is what forceRefresh means by "after".
        const requestedAt = initial.requestedAt ?? Date.now();
        const deadline = initial.deadline ?? requestedAt + options.requestDeadlineMs;
        const authorization = initial.request.headers.get('authorization');
        // One verification per request: the fast path's, when it made one.
        const authentication =
          initial.authentication ?? (await authenticate(options.verifyToken, authorization, deadline));
        if (!('viewer' in authentication)) throw authentication.error;
        const { viewer } = authentication;
        // Verified (or absent) by now: reading it again cannot throw.
        const token = bearerTokenFrom(authorization);
        const snapshot = () =>
          createTeamLoaders(options.cacheFor ? options.cacheFor(initial) : options.cache, {
            requestedAt,
            deadline,
            caller: viewer?.userId,
          });
        const context: GraphQLContext = {
          viewer,
          team: snapshot(),
          revocations: options.revocations,
          live,
          tokenExpiresAt: () => (token ? expiryOf(token) : null),
          actions: options.actions,
          requestInfo: { requestId: initial.requestId, requestedAt, deadline },
          // Yoga copies these fields onto its own context object: `this` is the one resolvers hold.
          renewTeamSnapshot(this: GraphQLContext) {
            this.team = snapshot();
          },
        };
        return context;
      } catch (error) {
        throw toGraphQLError(error);
      }
    },
  });
}
