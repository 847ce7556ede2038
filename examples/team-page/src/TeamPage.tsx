/**
 * The Team page: one query for what is shown (TeamPage), re-read whenever the live subscription (TeamChanged) says
 * the team changed, here or in any other browser; and the actions, each one mutation with its own
 * Idempotency-Key. Every action's refusal is shown by its error code.
 */
import { useCallback, useEffect, useState } from 'react';
import { type AnyVariables, type TypedDocumentNode, useClient, useQuery, useSubscription } from 'urql';
import { oneAction } from './client';
import { ErrorBanner, errorOf, type PageError } from './errors';
import { InvitationsTable } from './InvitationsTable';
import { InviteForm } from './InviteForm';
import { type MemberFilters, MembersTable } from './MembersTable';
import { LeaveOrganization, TeamChanged, TeamPage as TeamPageQuery } from './operations';

const PAGE_SIZE = 10;
/** The permission that allows the team actions (Clerk's system permission). */
const MANAGE_MEMBERS = 'org:sys_memberships:manage';

export function TeamPage({ organizationId, viewerId }: { organizationId: string; viewerId: string }) {
  const [filters, setFilters] = useState<MemberFilters>({
    search: '',
    role: '',
    order: 'JOINED_AT',
    page: 0,
  });
  const [error, setError] = useState<PageError | null>(null);
  const [left, setLeft] = useState(false);

  const [{ data, error: readError }, reread] = useQuery({
    query: TeamPageQuery,
    variables: {
      id: organizationId,
      limit: PAGE_SIZE,
      offset: filters.page * PAGE_SIZE,
      search: filters.search.trim() || null,
      roles: filters.role ? [filters.role] : null,
      orderBy: { field: filters.order },
    },
    pause: left,
  });

  // Live: every event (the first one included: it may follow a reconnect) means "read the page again".
  const [live] = useSubscription({ query: TeamChanged, variables: { id: organizationId }, pause: left });
  useEffect(() => {
    if (live.data) reread({ requestPolicy: 'network-only' });
  }, [live.data, reread]);

  const client = useClient();
  /** Runs one user action; true when it went through. A refusal is shown, and changed nothing. */
  const act = useCallback(
    async <Data, Variables extends AnyVariables>(
      mutation: TypedDocumentNode<Data, Variables>,
      variables: Variables,
    ): Promise<Data | undefined> => {
      setError(null);
      const result = await client.mutation(mutation, variables, oneAction()).toPromise();
      if (result.error) {
        setError(errorOf(result.error));
        return undefined;
      }
      reread({ requestPolicy: 'network-only' });
      return result.data;
    },
    [client, reread],
  );

  if (left) return <p>You left this organization.</p>;
  const organization = data?.organization;
  const shownError = error ?? (readError ? errorOf(readError) : null);
  const canManage = organization?.viewerPermissions.includes(MANAGE_MEMBERS) ?? false;

  return (
    <>
      <header className="page-header">
        <div>
          <h1>Team</h1>
          {organization && <p className="muted">{organization.name}</p>}
        </div>
        {organization && (
          <div className="header-side">
            <Seats seats={organization.seats} />
            <button
              type="button"
              className="danger"
              onClick={async () => {
                if (await act(LeaveOrganization, { id: organizationId })) setLeft(true);
              }}
            >
              Leave organization
            </button>
          </div>
        )}
      </header>
      {shownError && <ErrorBanner error={shownError} onDismiss={error ? () => setError(null) : undefined} />}
      {organization && (
        <>
          {canManage && (
            <InviteForm
              organizationId={organizationId}
              seatsAvailable={organization.seats.available}
              act={act}
              onRefused={setError}
            />
          )}
          <MembersTable
            organizationId={organizationId}
            viewerId={viewerId}
            members={organization.members.members}
            totalCount={organization.members.totalCount}
            pageSize={PAGE_SIZE}
            filters={filters}
            onFilters={setFilters}
            canManage={canManage}
            act={act}
          />
          <InvitationsTable
            organizationId={organizationId}
            invitations={organization.members.pendingInvitations ?? []}
            canManage={canManage}
            act={act}
          />
        </>
      )}
    </>
  );
}

/** Runs a mutation as one user action (TeamPage's `act`). */
export type Act = <Data, Variables extends AnyVariables>(
  mutation: TypedDocumentNode<Data, Variables>,
  variables: Variables,
) => Promise<Data | undefined>;

function Seats({
  seats,
}: {
  seats: { members: number; pendingInvitations: number; max: number | null; available: number | null };
}) {
  const used = seats.members + seats.pendingInvitations;
  return (
    <p className="seats" data-testid="seats">
      <strong>{used}</strong> {seats.max === null ? 'seats used (unlimited)' : `of ${seats.max} seats used`}
      {seats.available !== null && <span className="muted"> · {seats.available} available</span>}
      <br />
      <span className="muted">
        {seats.members} members · {seats.pendingInvitations} pending invitations
      </span>
    </p>
  );
}
