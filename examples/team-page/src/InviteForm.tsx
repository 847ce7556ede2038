/** Invite several people at once, with one role. Each address is sent or refused on its own. */
import { type FormEvent, useState } from 'react';
import type { PageError } from './errors';
import { roleLabel } from './format';
import { InviteMembers } from './operations';
import type { Act } from './TeamPage';

export const ROLES = ['org:member', 'org:admin'];

export function InviteForm({
  organizationId,
  seatsAvailable,
  act,
  onRefused,
}: {
  organizationId: string;
  seatsAvailable: number | null;
  act: Act;
  onRefused: (error: PageError) => void;
}) {
  const [emails, setEmails] = useState('');
  const [role, setRole] = useState(ROLES[0] ?? 'org:member');
  const [sending, setSending] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    const list = emails.split(/[\s,;]+/).filter(Boolean);
    if (list.length === 0) return;
    setSending(true);
    const data = await act(InviteMembers, {
      id: organizationId,
      invitations: list.map((email) => ({ email, role })),
    });
    setSending(false);
    if (!data) return;
    // Keep the addresses that were refused, so they can be fixed and sent again.
    const refused = data.inviteMembers.results.filter((result) => result.errorCode);
    setEmails(refused.map((result) => result.email).join('\n'));
    if (refused.length > 0) {
      onRefused({
        code: [...new Set(refused.map((result) => result.errorCode))].join(', '),
        message: refused.map((result) => `${result.email}: ${result.errorMessage}`).join(' '),
      });
    }
  }

  return (
    <form className="card invite" onSubmit={submit}>
      <h2>Invite members</h2>
      <textarea
        data-testid="invite-emails"
        placeholder="ada@example.com, grace@example.com"
        rows={2}
        value={emails}
        onChange={(event) => setEmails(event.target.value)}
        aria-label="Email addresses, separated by commas or new lines"
      />
      <div className="row">
        <select
          data-testid="invite-role"
          value={role}
          onChange={(event) => setRole(event.target.value)}
          aria-label="Role"
        >
          {ROLES.map((key) => (
            <option key={key} value={key}>
              {roleLabel(key)}
            </option>
          ))}
        </select>
        <button type="submit" data-testid="invite-submit" disabled={sending}>
          {sending ? 'Sending…' : 'Send invitations'}
        </button>
        {seatsAvailable !== null && <span className="muted">{seatsAvailable} seats available</span>}
      </div>
    </form>
  );
}
