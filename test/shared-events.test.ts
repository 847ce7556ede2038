/**
 * Shared subscription events (src/graphql/plugins/use-shared-events.ts), on a small schema through Yoga in process: an event
 * with a `shareKey` is executed once per distinct question however many subscribers ask it; without one, once
 * per subscriber; and a subscriber that goes away ends its source at once.
 */
import { createPubSub, createSchema, createYoga } from 'graphql-yoga';
import { describe, expect, it } from 'vitest';
import { useSharedEvents } from '../src/graphql/plugins/use-shared-events.js';

interface Payload {
  n: number;
  shareKey?: string;
}

function setUp() {
  const pubsub = createPubSub<{ tick: [Payload] }>();
  const executions: string[] = [];
  let open = 0;
  const schema = createSchema<Record<string, never>>({
    typeDefs: /* GraphQL */ `
      type Query { ok: Boolean }
      type Tick { n: Int!, label(prefix: String!): String! }
      type Subscription { tick: Tick! }
    `,
    resolvers: {
      Subscription: {
        tick: {
          subscribe: () => {
            open += 1;
            const source = pubsub.subscribe('tick');
            return {
              next: () => source.next(),
              return: () => {
                open -= 1;
                return source.return();
              },
              [Symbol.asyncIterator]() {
                return this;
              },
            };
          },
          resolve: (payload: Payload) => payload,
        },
      },
      Tick: {
        label: (payload: Payload, { prefix }: { prefix: string }) => {
          executions.push(`${prefix}${payload.n}`);
          return `${prefix}${payload.n}`;
        },
      },
    },
  });
  const yoga = createYoga({ schema, plugins: [useSharedEvents()], logging: false });
  return { yoga, pubsub, executions, open: () => open };
}

/** An SSE subscription through `yoga.fetch`; `next()` resolves with each `next` event's data. */
async function subscribe(yoga: ReturnType<typeof setUp>['yoga'], prefix: string) {
  const controller = new AbortController();
  const response = await yoga.fetch('http://yoga/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
    body: JSON.stringify({
      query: 'subscription ($p: String!) { tick { n label(prefix: $p) } }',
      variables: { p: prefix },
    }),
    signal: controller.signal,
  });
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  return {
    async next(): Promise<unknown> {
      for (;;) {
        const end = buffer.indexOf('\n\n');
        if (end !== -1) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (block.startsWith('event: next')) return JSON.parse(block.slice(block.indexOf('data: ') + 6));
          continue;
        }
        const { done, value } = await reader.read();
        if (done) throw new Error('stream ended');
        buffer += decoder.decode(value, { stream: true });
      }
    },
    close: () => reader.cancel(),
  };
}

describe('shared subscription events', () => {
  it('execute a shareable event once per question, however many subscribers ask it', async () => {
    const { yoga, pubsub, executions } = setUp();
    const same = await Promise.all([subscribe(yoga, 'a'), subscribe(yoga, 'a'), subscribe(yoga, 'a')]);
    const other = await subscribe(yoga, 'b');
    // Each stream's first next() starts its source (and with it the subscription); wait until all listen.
    const firsts = [...same, other].map((subscription) => subscription.next());
    await new Promise((resolve) => setImmediate(resolve));
    pubsub.publish('tick', { n: 1, shareKey: 'event-1' });
    expect(await Promise.all(firsts)).toEqual([
      { data: { tick: { n: 1, label: 'a1' } } },
      { data: { tick: { n: 1, label: 'a1' } } },
      { data: { tick: { n: 1, label: 'a1' } } },
      { data: { tick: { n: 1, label: 'b1' } } },
    ]);
    expect(executions.sort()).toEqual(['a1', 'b1']);

    // Without a shareKey, every subscriber's event is its own execution.
    const seconds = [...same, other].map((subscription) => subscription.next());
    pubsub.publish('tick', { n: 2 });
    await Promise.all(seconds);
    expect(executions.filter((label) => label.endsWith('2')).sort()).toEqual(['a2', 'a2', 'a2', 'b2']);
    for (const subscription of [...same, other]) await subscription.close();
  });

  it('a subscriber that goes away ends its source', async () => {
    const { yoga, pubsub, open } = setUp();
    const subscription = await subscribe(yoga, 'a');
    const first = subscription.next();
    await new Promise((resolve) => setImmediate(resolve));
    expect(open()).toBe(1);
    pubsub.publish('tick', { n: 1, shareKey: 'e1' });
    await first;
    await subscription.close();
    await new Promise((resolve) => setImmediate(resolve));
    expect(open()).toBe(0);
  });
});
