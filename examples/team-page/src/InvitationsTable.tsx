/** Pending invitations, with when each expires; resend (a new link and expiry) or revoke. */
import { formatDate, formatFromNow, roleLabel } from './format';
import type { TeamPageQuery } from './gql/graphql';
import { ResendInvitation, RevokeInvitation } from './operations';
import type { Act } from './TeamPage';

type Invitation = NonNullable<TeamPageQuery['organization']['members']['pendingInvitations']>[number];

export function InvitationsTable({
  organizationId,
  invitations,
  canManage,
  act,
}: {
  organizationId: string;
  invitations: Invitation[];
  canManage: boolean;
  act: Act;
}) {
  return (
    <section className="card">
      <h2>Pending invitations</h2>
      {invitations.length === 0 ? (
        <p className="muted">No pending invitations.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th>Email</th>
              <th>Role</th>
              <th>Sent</th>
              <th>Expires</th>
              {canManage && <th aria-label="Actions" />}
            </tr>
          </thead>
          <tbody>
            {invitations.map((invitation) => (
              <tr key={invitation.id} data-testid="invitation-row" data-invitation-id={invitation.id}>
                <td>{invitation.email}</td>
                <td>{roleLabel(invitation.role)}</td>
                <td>{formatDate(invitation.createdAt)}</td>
                <td>{invitation.expiresAt ? formatFromNow(invitation.expiresAt) : 'never'}</td>
                {canManage && (
                  <td className="actions">
                    <button
                      type="button"
                      className="link"
                      onClick={() =>
                        act(ResendInvitation, { id: organizationId, invitationId: invitation.id })
                      }
                    >
                      Resend
                    </button>
                    <button
                      type="button"
                      className="link danger"
                      onClick={() =>
                        act(RevokeInvitation, { id: organizationId, invitationId: invitation.id })
                      }
                    >
                      Revoke
                    </button>
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
