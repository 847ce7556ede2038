/** The Yoga instance: schema, per-request context, GraphiQL and plugins, composed in one place. */
import { useGraphQlJit } from '@envelop/graphql-jit';
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import { GraphQLError, NoSchemaIntrospectionCustomRule, type ValidationRule } from 'graphql';
import { createYoga, type Plugin, type YogaServerInstance, type YogaServerOptions } from 'graphql-yoga';
import { LRUCache } from 'lru-cache';
import { type Authentication, authenticate, bearerTokenFrom, type TokenVerifier } from '../auth/verifier.js';
import type { PreparedResponses } from '../fast-path/prepared-responses.js';
import { recordingCache } from '../fast-path/recorded-reads.js';
import { type TrustedDocumentsOptions, useTrustedDocuments } from '../fast-path/trusted-documents.js';
import { type PreparedCapture, usePreparedResponses } from '../fast-path/use-prepared-responses.js';
import type { Logger } from '../observability/logger.js';
import type { LiveStreams } from '../subscriptions/live-streams.js';
import type { TeamCache } from '../team/cache.js';
import type { Revocations } from '../team/revocations.js';
import { answerSizePlugin } from './answer-size.js';
import type { GraphQLContext } from './context.js';
import { toGraphQLError } from './errors.js';
import { DEFAULT_QUERY_LIMITS, queryLimitsPlugin } from './limits.js';
import { createTeamLoaders } from './loaders.js';
import { requestParserPlugin } from './request-parser.js';
import { schema } from './schema.js';
import { sharedEventsPlugin } from './shared-events.js';
import { variableErrorsPlugin } from './variable-errors.js';

export interface GraphiQLSettings {
  /** Shown when the page opens; a useful example beats an empty editor. */
  defaultQuery: string;
  /** Prefilled request headers, e.g. a demo member's token in the zero-config start. */
  defaultHeaders?: Record<string, string>;
  /**
   * The tabs GraphiQL opens with (instead of one with `defaultQuery`), each with its own headers; used only when
   * the browser has no tabs stored from an earlier visit.
   */
  defaultTabs?: { query: string; headers?: Record<string, string>; variables?: string }[];
}

export interface YogaOptions {
  cache: TeamCache;
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
  /** Also allow any loopback origin (`http://localhost:3000`, …): the zero-config start only. Default false. */
  allowLocalhostOrigins?: boolean;
  /** Mask internal error messages (production); in development Yoga adds the original message. */
  production: boolean;
  /**
   * How long one request may wait for Clerk in all (`REQUEST_DEADLINE_MS`), from its arrival: token keys and every
   * cache read of the request share this one deadline.
   */
  requestDeadlineMs: number;
  /** Trusted documents (src/fast-path/trusted-documents.ts); absent: plain queries only, as before. */
  trustedDocuments?: TrustedDocumentsOptions;
  /** Where answers the fast path asked for are kept (src/fast-path/); absent: none are. */
  preparedResponses?: PreparedResponses;
}

/** A team-page query is well under 1 KiB; Yoga's default (25 MB) only invites abuse. */
export const MAX_REQUEST_BODY_BYTES = 100 * 1024;

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
  /** Set by the fast path when this request's answer may be kept as a prepared response. */
  prepared?: PreparedCapture;
  /** The fast path's verification of this request's token: used as is, never made again. */
  authentication?: Authentication;
}

export type TeamYoga = YogaServerInstance<ServerContext, GraphQLContext>;

/** Refuses introspection queries when turned off, the way Yoga's docs recommend: a validation rule. */
const disableIntrospection = (): Plugin => ({
  onValidate: ({ addValidationRule }) => addValidationRule(NoSchemaIntrospectionCustomRule),
});

/**
 * Refuses operations of a type the schema does not have (`mutation { … }`: there is no Mutation type) as a validation
 * error. graphql-js 16 only finds out when executing, and graphql-jit throws a plain Error there: a 500 and two
 * error-level log lines for one anonymous request. (graphql-js 17 has this rule as KnownOperationTypesRule.) Its
 * status is every validation error's: 400, or 200 to a client that accepts only application/json (GraphQL over HTTP).
 */
const knownOperationTypes: ValidationRule = (context) => ({
  OperationDefinition(node) {
    if (context.getSchema().getRootType(node.operation)) return;
    context.reportError(new GraphQLError(`This API has no ${node.operation} operations.`, { nodes: node }));
  },
});

const refuseUnknownOperationTypes = (): Plugin => ({
  onValidate: ({ addValidationRule }) => addValidationRule(knownOperationTypes),
});

/**
 * Logs errors the client only sees masked ("Unexpected error."), with the request ID so a report can be traced.
 * Errors with a code are answers, not incidents, and are not logged.
 */
const logUnexpectedErrors = (logger: Logger): Plugin<GraphQLContext & ServerContext> => ({
  onExecute: () => ({
    onExecuteDone: ({ result, args }) => {
      if (!('errors' in result) || !result.errors) return;
      for (const error of result.errors) {
        const original = error.originalError;
        if (original instanceof GraphQLError || error.extensions?.code) continue;
        logger.error('unexpected error in resolver', {
          requestId: args.contextValue.requestId,
          path: error.path?.join('.'),
          error: original ?? error,
        });
      }
    },
  }),
});

export const DEFAULT_QUERY = (
  organizationId: string,
) => `# The Settings → Team page's query. Edit the ID, or ask who you are with { viewer { userId } }.
query TeamPage {
  organization(id: "${organizationId}") {
    members(limit: 20, offset: 0, includePending: true) {
      fromCache
      cachedAt
      totalCount
      members { userId firstName lastName email imageUrl role createdAt }
      pendingInvitations { id email role createdAt }
    }
  }
}
`;

/**
 * Runs a plugin's `onExecute` check for subscriptions too: graphql-js executes each event of a subscription
 * without `onExecute`, so a check made there (variables, answer size) must also run once at subscribe time.
 */
const alsoOnSubscribe = (plugin: Plugin): Plugin => ({
  ...plugin,
  // Both payloads carry what these checks use (`args`, `setResultAndStopExecution`); the checks return nothing.
  onSubscribe(payload) {
    void plugin.onExecute?.(payload as unknown as Parameters<NonNullable<Plugin['onExecute']>>[0]);
  },
});

/** The plugin without its subscription hook. */
const queriesOnly = <P extends { onSubscribe?: unknown }>({ onSubscribe: _subscriptions, ...plugin }: P) =>
  plugin;

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

const LOOPBACK_ORIGIN = /^https?:\/\/(localhost|127\.0\.0\.1|\[::1\])(:\d{1,5})?$/;

/**
 * CORS: the configured origins, plus any loopback origin when asked; no credentials (Bearer tokens only). Decided
 * here for each request, and handed to @whatwg-node's CORS as exactly one origin or none: given several, it answers
 * an origin it does not know with `Access-Control-Allow-Origin: null`, which allows the very pages that send
 * `Origin: null` (sandboxed iframes, `data:` and `file:` documents). `null` is never an allowed origin.
 */
function corsFor(options: YogaOptions): YogaServerOptions<ServerContext, GraphQLContext>['cors'] {
  const configured = new Set(options.corsOrigins);
  if (configured.size === 0 && !options.allowLocalhostOrigins) return false;
  const policy = (origin: string) => ({
    origin: [origin],
    methods: ['GET', 'POST'],
    allowedHeaders: ['Authorization', 'Content-Type'],
    // Bearer tokens only: no cookies, so browsers need not (and must not) send credentials.
    credentials: false,
  });
  return (request) => {
    const origin = request.headers.get('origin');
    if (!origin || origin === 'null') return false;
    const allowed =
      configured.has(origin) ||
      configured.has('*') ||
      (options.allowLocalhostOrigins === true && LOOPBACK_ORIGIN.test(origin));
    return allowed ? policy(origin) : false;
  };
}

export function createTeamYoga(options: YogaOptions): TeamYoga {
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
  return createYoga<ServerContext, GraphQLContext>({
    schema,
    graphqlEndpoint: '/graphql',
    landingPage: false,
    maskedErrors: { isDev: !options.production },
    cors: corsFor(options),
    graphiql: options.graphiql
      ? {
          title: 'Team API · GraphiQL',
          defaultQuery: options.graphiql.defaultQuery,
          headers: JSON.stringify(options.graphiql.defaultHeaders ?? {}, null, 2),
          ...(options.graphiql.defaultTabs
            ? {
                defaultTabs: options.graphiql.defaultTabs.map((tab) => ({
                  query: tab.query,
                  headers: tab.headers ? JSON.stringify(tab.headers, null, 2) : null,
                  variables: tab.variables ?? null,
                })),
              }
            : {}),
          // Subscriptions over Yoga's own SSE (distinct connections), like any other client.
          subscriptionsProtocol: 'SSE',
        }
      : false,
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
    plugins: [
      // Replaces Yoga's request parsers (registered before any plugin's): case-insensitive media types, 400s.
      requestParserPlugin(),
      // First: a trusted document is swapped in before anything else reads the request's query.
      ...(options.trustedDocuments ? [useTrustedDocuments(options.trustedDocuments)] : []),
      ...(options.preparedResponses ? [usePreparedResponses({ store: options.preparedResponses })] : []),
      // Compiles each operation once into plain JS (and a matching JSON serializer): a cached team page is
      // mostly execution and serialization, and the compiled form does both in about half the time.
      // The compiled operations live in a bounded LRU, keyed like Yoga's own parse cache.
      // Queries only: graphql-jit (0.8) hands a subscription's `subscribe` resolver the operation's variables
      // instead of the field's arguments, so subscriptions run on graphql-js (its subscribe and execute).
      queriesOnly(useGraphQlJit({}, { cache: new LRUCache({ max: 1000 }) })),
      // Subscriptions on graphql-js, each event executed once for all subscribers asking the same question.
      sharedEventsPlugin(),
      logUnexpectedErrors(logger),
      queryLimitsPlugin(DEFAULT_QUERY_LIMITS, { hideSuggestions: !options.introspection }),
      // Before execution, in this order: badly typed variables are the caller's input error, then the size of
      // the answer they ask for (which needs the variables).
      alsoOnSubscribe(variableErrorsPlugin()),
      alsoOnSubscribe(answerSizePlugin()),
      refuseUnknownOperationTypes(),
      ...(options.introspection ? [] : [disableIntrospection()]),
    ],
    context: async ({ request, prepared, ...arrival }): Promise<GraphQLContext> => {
      try {
        // One deadline per request, from its arrival; `requestedAt` is what forceRefresh means by "after".
        const requestedAt = arrival.requestedAt ?? Date.now();
        const deadline = arrival.deadline ?? requestedAt + options.requestDeadlineMs;
        const authorization = request.headers.get('authorization');
        // One verification per request: the fast path's, when it made one.
        const authentication =
          arrival.authentication ?? (await authenticate(options.verifyToken, authorization, deadline));
        if (!('viewer' in authentication)) throw authentication.error;
        const { viewer } = authentication;
        // Verified (or absent) by now: reading it again cannot throw.
        const token = bearerTokenFrom(authorization);
        return {
          viewer,
          // A request the fast path may keep an answer of records what it reads (the answer's inputs).
          team: createTeamLoaders(
            prepared ? recordingCache(options.cache, prepared.recording) : options.cache,
            {
              requestedAt,
              deadline,
              caller: viewer?.userId,
            },
          ),
          revocations: options.revocations,
          live,
          tokenExpiresAt: () => (token ? expiryOf(token) : null),
        };
      } catch (error) {
        throw toGraphQLError(error);
      }
    },
  });
}
