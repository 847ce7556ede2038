/**
 * The benchmark's peers, serving the cache-hit scenario's page from memory (plain JavaScript, so that it runs with
 * the server's Node flags and no TypeScript loader): PEER=mercurius (Fastify + Mercurius with graphql-jit),
 * PEER=apollo (Apollo Server's standalone node:http server) or PEER=prepared (node:http reading the body and writing
 * the prepared answer's bytes: the limit of any server on this Node). PAGE_FILE holds the answer our server gave
 * for the page (its JSON), so every peer answers the same query with the same data. Ready when GET /health (Apollo:
 * GET /?query={__typename}) answers 200.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

const peer = process.env.PEER;
const port = Number(process.env.PORT ?? 4100);
const host = process.env.HOST ?? '127.0.0.1';
const answer = readFileSync(process.env.PAGE_FILE ?? '', 'utf8');
const page = JSON.parse(answer).data.organization.members;

// The part of our schema the team page query reads.
const typeDefs = `
  type Query { organization(id: ID!): Organization }
  type Organization { members(limit: Int!, offset: Int!, includePending: Boolean!): TeamMembers }
  type TeamMembers {
    fromCache: Boolean!
    totalCount: Int!
    members: [Member!]!
    pendingInvitations: [Invitation!]
  }
  type Member {
    userId: ID!
    firstName: String
    lastName: String
    email: String
    imageUrl: String
    role: String!
    createdAt: String!
  }
  type Invitation { id: ID! email: String! role: String! createdAt: String! }
`;
const resolvers = {
  Query: { organization: (_root, { id }) => ({ id }) },
  Organization: { members: () => page },
};

let close;
if (peer === 'mercurius') {
  const { default: Fastify } = await import('fastify');
  const { default: mercurius } = await import('mercurius');
  const app = Fastify({ logger: false });
  // jit: 1 compiles each query with graphql-jit after its first run.
  await app.register(mercurius, { schema: typeDefs, resolvers, jit: 1 });
  app.get('/health', async () => ({ ok: true }));
  await app.listen({ port, host });
  close = () => app.close();
} else if (peer === 'apollo') {
  const { ApolloServer } = await import('@apollo/server');
  const { startStandaloneServer } = await import('@apollo/server/standalone');
  // No CSRF preflight requirement, so that the harness's plain GET of `{ __typename }` tells it is up; the measured
  // requests are JSON POSTs, which the check lets through anyway.
  const server = new ApolloServer({ typeDefs, resolvers, csrfPrevention: false });
  await startStandaloneServer(server, { listen: { port, host } });
  close = () => server.stop();
} else if (peer === 'prepared') {
  const bytes = Buffer.from(answer);
  const server = createServer((request, response) => {
    if (request.url === '/health') return void response.end('ok');
    request.on('data', () => {});
    request.on('end', () => {
      response.writeHead(200, { 'content-type': 'application/graphql-response+json; charset=utf-8' });
      response.end(bytes);
    });
  });
  server.listen(port, host);
  close = () =>
    new Promise((resolve) => {
      server.close(resolve);
      server.closeAllConnections();
    });
} else {
  throw new Error(`PEER must be mercurius, apollo or prepared, got ${peer}`);
}

const stop = () => {
  Promise.resolve(close?.()).finally(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
