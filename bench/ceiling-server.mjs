/**
 * The ceiling of the benchmark: a bare GraphQL Yoga server with a one-field schema, answering `{ __typename }`.
 * Plain JavaScript on purpose, so that it runs with exactly the Node flags of the server under test (no TypeScript
 * loader). PORT and HOST come from the environment, like the server's.
 */
import { createServer } from 'node:http';
import { createSchema, createYoga } from 'graphql-yoga';

const yoga = createYoga({
  schema: createSchema({ typeDefs: 'type Query { ok: Boolean! }', resolvers: { Query: { ok: () => true } } }),
  graphqlEndpoint: '/graphql',
  landingPage: false,
  graphiql: false,
  logging: 'warn',
  // CEILING_BODY_LIMIT=off drops Yoga's default body limiter (a counting stream per request), which the team server
  // replaces with a Content-Length check: the like-for-like ceiling for comparing the two.
  ...(process.env.CEILING_BODY_LIMIT === 'off' ? { maxRequestBodySize: false } : {}),
});

const server = createServer(yoga);
server.listen(Number(process.env.PORT ?? 4100), process.env.HOST ?? '127.0.0.1');

const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
