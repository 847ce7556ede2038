/** The requests the benchmark sends: the team page query, the ceiling's `{ __typename }`, and their headers. */

const TEAM_FIELDS =
  'fromCache totalCount members { userId firstName lastName email imageUrl role createdAt }';
const PENDING_FIELDS = 'pendingInvitations { id email role createdAt }';

/** The body of a team page query (what the product's team page asks for). */
export function teamQuery(
  organizationId: string,
  args: { limit?: number; offset?: number; includePending?: boolean } = {},
): string {
  const limit = args.limit ?? 20;
  const offset = args.offset ?? 0;
  const pending = args.includePending === true;
  const query =
    'query TeamPage($id: ID!, $limit: Int!, $offset: Int!, $includePending: Boolean!) {\n' +
    '  organization(id: $id) {\n' +
    `    members(limit: $limit, offset: $offset, includePending: $includePending) { ${TEAM_FIELDS}${pending ? ` ${PENDING_FIELDS}` : ''} }\n` +
    '  }\n}';
  return JSON.stringify({
    query,
    operationName: 'TeamPage',
    variables: { id: organizationId, limit, offset, includePending: pending },
  });
}

/** The body of a team page query with search, roles filter and order (scenario 10). */
export function searchQuery(
  organizationId: string,
  args: {
    search?: string;
    roles?: string[];
    orderBy?: { field: 'JOINED_AT' | 'NAME' | 'EMAIL'; direction?: 'ASC' | 'DESC' };
    limit?: number;
    offset?: number;
  },
): string {
  const query =
    'query TeamSearch($id: ID!, $limit: Int, $offset: Int, $search: String, $roles: [String!], $orderBy: MemberOrder) {\n' +
    '  organization(id: $id) {\n' +
    `    members(limit: $limit, offset: $offset, search: $search, roles: $roles, orderBy: $orderBy) { ${TEAM_FIELDS} }\n` +
    '  }\n}';
  return JSON.stringify({ query, operationName: 'TeamSearch', variables: { id: organizationId, ...args } });
}

export const CEILING_BODY = JSON.stringify({ query: '{ __typename }' });

export function headers(token: string): Record<string, string> {
  return {
    'content-type': 'application/json',
    accept: 'application/graphql-response+json, application/json',
    authorization: `Bearer ${token}`,
  };
}

/**
 * Fails fast when the stack does not answer a team query correctly (a benchmark of errors measures nothing); the
 * first read also puts the organization in the server's cache.
 */
/**
 * Sends the query once and checks the answer; for a team query, then waits until the answer comes from the cache:
 * a cold page is answered before the whole roster is read (in the background), and a steady cache-hit scenario
 * must not measure the cold pages of that window.
 */
export async function checkQuery(
  serverUrl: string,
  token: string,
  body: string,
  what: string,
): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const response = await fetch(`${serverUrl}/graphql`, {
      method: 'POST',
      headers: headers(token),
      body,
      signal: AbortSignal.timeout(30_000),
    });
    const text = await response.text();
    if (response.status !== 200 || text.includes('"errors"') || !text.includes('"members"')) {
      throw new Error(`sanity check (${what}) failed: HTTP ${response.status} ${text.slice(0, 500)}`);
    }
    if (!text.includes('"fromCache":false')) return;
    if (Date.now() > deadline)
      throw new Error(`sanity check (${what}): the roster was not cached within 60 s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
