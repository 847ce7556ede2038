/**
 * Authorization on its own: a viewer, revocation records and a team snapshot in, evidence or a domain error out
 * (no GraphQL, no server); and the GraphQL layer's mapping of those errors to today's codes, messages and statuses.
 */
import { GraphQLError } from 'graphql';
import { describe, expect, it } from 'vitest';
import {
  type AccessInputs,
  authorizeOrganization,
  currentMemberships,
  type TeamEvidence,
} from '../src/auth/access.js';
import { AccessDeniedError, AuthenticationError, InvalidArgumentError } from '../src/auth/errors.js';
import type { Viewer } from '../src/auth/viewer.js';
import { FORBIDDEN_MESSAGE, toGraphQLError } from '../src/graphql/errors.js';
import type { CacheRead } from '../src/team/cache.js';
import { createUserMemberships, type UserMemberships } from '../src/team/types.js';

const viewer: Viewer = {
  userId: 'user_1',
  sessionId: 'sess_1',
  activeOrganizationId: null,
  activeOrganizationRole: null,
  issuedAt: null,
};

const read = <T>(value: T, readStartedAt: number): CacheRead<T> => ({
  value,
  fetchedAt: readStartedAt,
  readStartedAt,
  fromCache: true,
  stale: false,
  version: 1,
});

const membershipIn = (organizationId: string) => ({
  membershipId: `mem_${organizationId}`,
  organization: {
    id: organizationId,
    name: organizationId,
    slug: null,
    imageUrl: null,
    membersCount: null,
    maxAllowedMemberships: null,
  },
  role: 'org:member',
  permissions: [],
  createdAt: '2024-01-01T00:00:00.000Z',
});

/** A team snapshot with no fresh roster and the caller's list read at `readStartedAt`, counting list reads. */
function team(organizationIds: string[], readStartedAt = 1000) {
  const list = read<UserMemberships>(
    createUserMemberships(viewer.userId, organizationIds.map(membershipIn)),
    readStartedAt,
  );
  const reads = { lists: 0 };
  const evidence: TeamEvidence = {
    peekRoster: async () => undefined,
    userMemberships: async () => {
      reads.lists++;
      return list;
    },
    refreshUserMemberships: async () => list,
  };
  return { evidence, reads };
}

const inputs = (evidence: TeamEvidence, revokedAt = 0, who: Viewer | null = viewer): AccessInputs => ({
  viewer: who,
  revocations: { revokedAt: () => revokedAt },
  team: evidence,
});

const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => expect.unreachable('expected a refusal'),
    (error: unknown) => error,
  );

describe('authorizeOrganization', () => {
  it('lets a member in on their membership list', async () => {
    const { evidence } = team(['org_a']);
    await expect(authorizeOrganization(inputs(evidence), 'org_a')).resolves.toMatchObject({
      kind: 'membership',
    });
  });

  it('says no in domain terms: no viewer, a malformed ID (before any read), not a member, a removal since', async () => {
    const { evidence, reads } = team(['org_a']);
    const anonymous = await failure(authorizeOrganization(inputs(evidence, 0, null), 'org_a'));
    expect(anonymous).toBeInstanceOf(AuthenticationError);
    expect(anonymous).toMatchObject({ reason: 'missing' });
    const malformed = await failure(authorizeOrganization(inputs(evidence), 'org_../x'));
    expect(malformed).toBeInstanceOf(InvalidArgumentError);
    expect(malformed).toMatchObject({ argumentName: 'id' });
    expect(reads.lists).toBe(0);
    await expect(authorizeOrganization(inputs(evidence), 'org_b')).rejects.toBeInstanceOf(AccessDeniedError);
    // Removed after the list was read: the list no longer counts.
    await expect(authorizeOrganization(inputs(evidence, 2000), 'org_a')).rejects.toBeInstanceOf(
      AccessDeniedError,
    );
  });

  it('currentMemberships leaves out organizations revoked since the list was read', async () => {
    const { evidence } = team(['org_a', 'org_b']);
    const access: AccessInputs = {
      viewer,
      revocations: { revokedAt: (_user, organizationId) => (organizationId === 'org_b' ? 2000 : 0) },
      team: evidence,
    };
    const memberships = await currentMemberships(access);
    expect(memberships.map((m) => m.organization.id)).toEqual(['org_a']);
  });
});

describe('toGraphQLError for auth errors', () => {
  const mapped = (error: Error) => toGraphQLError(error) as GraphQLError;

  it('no token: UNAUTHENTICATED with HTTP 401 and WWW-Authenticate, the message kept', () => {
    const error = mapped(new AuthenticationError('missing', 'Authentication required: send a token.'));
    expect(error).toBeInstanceOf(GraphQLError);
    expect(error.message).toBe('Authentication required: send a token.');
    expect(error.extensions).toEqual({
      code: 'UNAUTHENTICATED',
      http: { status: 401, headers: { 'WWW-Authenticate': 'Bearer' } },
    });
  });

  it('access denied: FORBIDDEN with the one message for non-members and unknown organizations', () => {
    const error = mapped(new AccessDeniedError('org_a'));
    expect(error.message).toBe(FORBIDDEN_MESSAGE);
    expect(error.extensions).toEqual({ code: 'FORBIDDEN' });
  });

  it('an invalid argument: BAD_USER_INPUT naming it', () => {
    const error = mapped(new InvalidArgumentError('Expected a Clerk organization ID (org_…).', 'id'));
    expect(error.message).toBe('Expected a Clerk organization ID (org_…).');
    expect(error.extensions).toEqual({ code: 'BAD_USER_INPUT', argumentName: 'id' });
  });
});
