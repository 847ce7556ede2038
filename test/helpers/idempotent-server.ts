/**
 * A tiny Yoga with one mutation whose resolver counts its calls, behind `useIdempotencyKeys`: the plugin's tests
 * (test/idempotency.test.ts) drive it through `yoga.fetch`. The schema is the test's own (the team actions' schema
 * is not needed to test what the plugin does with keys); the store is a real one, in process or the Redis layer's.
 */

import { GraphQLError } from 'graphql';
import { createSchema, createYoga, type Plugin } from 'graphql-yoga';
import type { IdempotencyStore } from '../../src/actions/idempotency.js';
import type { GraphQLContext } from '../../src/graphql/context.js';
import {
  type IdempotencyKeysPluginOptions,
  useIdempotencyKeys,
} from '../../src/graphql/plugins/use-idempotency-keys.js';

export const INVITE = `mutation Invite($email: String!, $behaviour: String) {
  invite(email: $email, behaviour: $behaviour) { id email attempt retryOfUnknownOutcome }
}`;

/**
 * How the resolver behaves: `held` waits for `release()`; `timeout`, on the server's first call, marks the outcome
 * unknown and throws UPSTREAM_UNAVAILABLE (a Clerk write that timed out; Clerk answers the calls after it); `refuse` throws FORBIDDEN before any write; `crash` throws an
 * uncoded error; `big` answers ~300 KB.
 */
export type Behaviour = 'ok' | 'held' | 'timeout' | 'refuse' | 'crash' | 'big';

export interface Invite {
  id: string;
  attempt: number;
  retryOfUnknownOutcome: boolean | null;
}

/** One request's answer: its body, its text, and shortcuts to what the tests read. */
export interface Sent {
  status: number;
  text: string;
  body: Answer;
  replayed: string | null;
  /** `data.invite` (a test reading it from an answer without one fails on the read). */
  invite: Invite;
  /** The first error's `extensions`. */
  error: Record<string, unknown> | undefined;
}

/** What the tests read of an answer. */
export interface Answer {
  data?: { invite?: Invite; ok?: boolean };
  errors?: { message: string; extensions: Record<string, unknown> }[];
}

export interface Call {
  email: string;
  retryOfUnknownOutcome: boolean | undefined;
}

export interface IdempotentServer {
  calls: Call[];
  /** Lets every `held` resolver finish. */
  release(): void;
  /** Resolves when a resolver is held (executing). */
  held(): Promise<void>;
  send(options: {
    email?: string;
    behaviour?: Behaviour;
    key?: string;
    user?: string | null;
    query?: string;
  }): Promise<Sent>;
}

export function idempotentServer(
  store: IdempotencyStore,
  options: Omit<IdempotencyKeysPluginOptions, 'store'> = {},
): IdempotentServer {
  const calls: Call[] = [];
  let release!: () => void;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let onHeld!: () => void;
  const heldOnce = new Promise<void>((resolve) => {
    onHeld = resolve;
  });
  const schema = createSchema<Pick<GraphQLContext, 'idempotency'> & { viewer: { userId: string } | null }>({
    typeDefs: /* GraphQL */ `
      type Query { ok: Boolean! }
      type Invitation { id: ID!  email: String!  attempt: Int!  retryOfUnknownOutcome: Boolean }
      type Mutation { invite(email: String!, behaviour: String): Invitation! }
    `,
    resolvers: {
      Query: { ok: () => true },
      Mutation: {
        async invite(_parent, { email, behaviour }: { email: string; behaviour?: Behaviour }, context) {
          const retryOfUnknownOutcome = context.idempotency?.retryOfUnknownOutcome;
          calls.push({ email, retryOfUnknownOutcome });
          if (behaviour === 'held') {
            onHeld();
            await released;
          }
          if (behaviour === 'timeout' && calls.length === 1) {
            context.idempotency?.markOutcomeUnknown();
            throw new GraphQLError('Clerk did not answer in time.', {
              extensions: { code: 'UPSTREAM_UNAVAILABLE' },
            });
          }
          if (behaviour === 'refuse') throw new GraphQLError('No.', { extensions: { code: 'FORBIDDEN' } });
          if (behaviour === 'crash') throw new Error('a bug after the write, maybe');
          return {
            id: `inv_${calls.length}`,
            email: behaviour === 'big' ? email.repeat(300_000 / email.length) : email,
            attempt: calls.length,
            retryOfUnknownOutcome: retryOfUnknownOutcome ?? null,
          };
        },
      },
    },
  });
  const yoga = createYoga({
    schema,
    logging: false,
    // The caller is whoever `x-user` says (verified tokens are the auth suites' business).
    context: ({ request }) => {
      const userId = request.headers.get('x-user');
      return { viewer: userId ? { userId } : null };
    },
    plugins: [useIdempotencyKeys({ store, ...options }) as Plugin],
  });

  return {
    calls,
    release,
    held: () => heldOnce,
    async send({ email = 'ada@example.com', behaviour, key, user = 'user_a', query = INVITE }) {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (user) headers['x-user'] = user;
      if (key !== undefined) headers['idempotency-key'] = key;
      const response = await yoga.fetch('http://yoga/graphql', {
        method: 'POST',
        headers,
        body: JSON.stringify({ query, variables: { email, ...(behaviour ? { behaviour } : {}) } }),
      });
      const text = await response.text();
      const body = JSON.parse(text) as Answer;
      return {
        status: response.status,
        text,
        body,
        replayed: response.headers.get('idempotent-replayed'),
        invite: body.data?.invite as Invite,
        error: body.errors?.[0]?.extensions,
      };
    },
  };
}

/** A store that tells when a request starts waiting for a running duplicate (delegates everything). */
export function observedStore(store: IdempotencyStore): IdempotencyStore & { waiting(): Promise<void> } {
  let onWait!: () => void;
  const waited = new Promise<void>((resolve) => {
    onWait = resolve;
  });
  return {
    claim: (...args) => store.claim(...args),
    renew: (...args) => store.renew(...args),
    settle: (...args) => store.settle(...args),
    waitForChange(scope, wait) {
      onWait();
      return store.waitForChange(scope, wait);
    },
    waiting: () => waited,
  };
}
