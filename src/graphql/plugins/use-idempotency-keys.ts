/**
 * `Idempotency-Key` for mutations (Stripe's semantics, src/actions/idempotency.ts): the same user + key + operation
 * (document, operation name, variables) runs once; a retry replays the first answer without executing, with the
 * response header `Idempotent-Replayed: true`. Queries and subscriptions ignore the header, and so does a request
 * without a verified viewer (the mutation refuses it anyway).
 *
 * Refusals, none of which executes anything: a malformed key → `BAD_USER_INPUT`; the key used before with another
 * operation → `IDEMPOTENCY_KEY_REUSED`; an attempt with this key still running past this request's deadline →
 * `IDEMPOTENCY_KEY_IN_USE` (retry with the same key); the keys' store unreachable (Redis) → `UPSTREAM_UNAVAILABLE`.
 *
 * What an execution leaves behind, decided from its result:
 * - the resolver called `context.idempotency.markOutcomeUnknown()` → `unknown`;
 * - no errors → `done`: the answer is kept and replayed (an answer over `maxAnswerBytes` is not: `unknown`);
 * - every error carries a code, was raised by a mutation field itself, and no mutation field answered → released
 *   (the key returns to what it was): **a mutation field that throws a coded error has written nothing** (guards and
 *   Clerk's refusals come before or instead of the write); one that wrote, or may have, calls
 *   `markOutcomeUnknown()` before it throws;
 * - anything else (an unexpected error, which may have come after the write; an error below a mutation field, whose
 *   write ran but whose answer is incomplete) → `unknown`.
 * `unknown` means the next attempt executes with `context.idempotency.retryOfUnknownOutcome` true: it reconciles
 * with Clerk (a write found done is answered, not made again) and its answer is then kept.
 *
 * Place it after every plugin that can refuse an operation before execution (variables, answer size): a refused
 * operation never takes a key.
 */
import { type DocumentNode, type ExecutionResult, getOperationAST, print } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import {
  createIdempotencyKeys,
  fingerprintOf,
  type IdempotencyStore,
  idempotencyScope,
  isValidIdempotencyKey,
} from '../../actions/idempotency.js';
import type { GraphQLContext } from '../context.js';
import { idempotencyErrors } from '../errors.js';

export interface IdempotencyKeysPluginOptions {
  /**
   * Where keys live: the Redis layer's `idempotencyStore` with REDIS_URL (a retry on another replica replays too),
   * else `createMemoryIdempotencyStore()`. Required.
   */
  store: IdempotencyStore;
  /**
   * How long a duplicate waits for the running attempt when its request has no deadline of its own (the server
   * context's `deadline`, which the HTTP layer always sets; `yoga.fetch` may not). @default 5000
   */
  waitMs?: number;
  /** Lease of a running attempt: how long a replica that died with the key blocks it. @default 5000 */
  leaseMs?: number;
  /** Answers larger than this (bytes) are not kept: the key becomes `unknown`. @default 262144 (256 KiB) */
  maxAnswerBytes?: number;
  /** @default Date.now */
  now?: () => number;
}

/** The request header, and the response header of a replay. */
export const IDEMPOTENCY_KEY_HEADER = 'Idempotency-Key';
export const IDEMPOTENT_REPLAYED_HEADER = 'Idempotent-Replayed';

/** Variables with their object keys sorted: `{a, b}` and `{b, a}` are one operation. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value ?? {}, (_key, item: unknown) =>
    item && typeof item === 'object' && !Array.isArray(item)
      ? Object.fromEntries(Object.entries(item).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : item,
  );
}

/**
 * What makes two keyed requests the same operation: the document (as printed, so formatting does not count), the
 * operation name and the variables (object keys in any order).
 */
export function operationFingerprint(
  documentText: string,
  operationName: string | null | undefined,
  variables: unknown,
): string {
  return fingerprintOf([documentText, operationName ?? '', canonicalJson(variables)]);
}

/** What the execution leaves behind (see the module's comment). */
function outcomeOf(result: ExecutionResult, markedUnknown: boolean): 'done' | 'release' | 'unknown' {
  if (markedUnknown) return 'unknown';
  const errors = result.errors ?? [];
  if (errors.length === 0) return 'done';
  const answered = Object.values(result.data ?? {}).some((value) => value !== null);
  const refusedByField = errors.every(
    (error) => typeof error.extensions?.code === 'string' && error.path?.length === 1,
  );
  return refusedByField && !answered ? 'release' : 'unknown';
}

export function useIdempotencyKeys(options: IdempotencyKeysPluginOptions): Plugin<GraphQLContext> {
  const now = options.now ?? Date.now;
  const waitMs = options.waitMs ?? 5000;
  const keys = createIdempotencyKeys({
    store: options.store,
    now,
    ...(options.leaseMs === undefined ? {} : { leaseMs: options.leaseMs }),
    ...(options.maxAnswerBytes === undefined ? {} : { maxAnswerBytes: options.maxAnswerBytes }),
  });
  // Yoga's parse cache hands out one DocumentNode per query text: each is printed once.
  const printed = new WeakMap<DocumentNode, string>();
  const replayed = new WeakSet<Request>();

  return {
    async onExecute({ args, extendContext, setResultAndStopExecution }) {
      if (getOperationAST(args.document, args.operationName)?.operation !== 'mutation') return;
      const context = args.contextValue as Partial<GraphQLContext> & {
        request?: Request;
        deadline?: number;
      };
      const key = context.request?.headers.get(IDEMPOTENCY_KEY_HEADER);
      if (key === null || key === undefined) return;
      if (!isValidIdempotencyKey(key)) {
        setResultAndStopExecution({ errors: [idempotencyErrors.invalid()] });
        return;
      }
      const userId = context.viewer?.userId;
      if (!userId) return;

      let text = printed.get(args.document);
      if (text === undefined) {
        text = print(args.document);
        printed.set(args.document, text);
      }
      const fingerprint = operationFingerprint(text, args.operationName, args.variableValues);
      const start = await keys.start(idempotencyScope(userId, key), fingerprint, {
        deadline: context.deadline ?? now() + waitMs,
        ...(context.request?.signal ? { signal: context.request.signal } : {}),
      });
      if (start.kind === 'replay') {
        if (context.request) replayed.add(context.request);
        setResultAndStopExecution(JSON.parse(start.answer) as ExecutionResult);
        return;
      }
      if (start.kind === 'refused') {
        const error =
          start.reason === 'reused'
            ? idempotencyErrors.reused()
            : start.reason === 'in_use'
              ? idempotencyErrors.inUse()
              : idempotencyErrors.unavailable();
        setResultAndStopExecution({ errors: [error] });
        return;
      }
      const { attempt } = start;
      let markedUnknown = false;
      extendContext({
        idempotency: {
          retryOfUnknownOutcome: attempt.retryOfUnknownOutcome,
          markOutcomeUnknown: () => {
            markedUnknown = true;
          },
        },
      } satisfies Pick<GraphQLContext, 'idempotency'>);
      return {
        // Settled before the answer is sent: a client that retries after reading it finds the key settled.
        async onExecuteDone({ result }) {
          // @defer/@stream: the answer is not one result to keep.
          if (Symbol.asyncIterator in result) return attempt.unknown();
          const outcome = outcomeOf(result, markedUnknown);
          if (outcome === 'release') return attempt.release();
          if (outcome === 'unknown') return attempt.unknown();
          const { data, extensions } = result;
          return attempt.done(JSON.stringify(extensions === undefined ? { data } : { data, extensions }));
        },
      };
    },
    onResponse({ request, response }) {
      if (replayed.has(request)) response.headers.set(IDEMPOTENT_REPLAYED_HEADER, 'true');
    },
  };
}
