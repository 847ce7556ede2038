/** Members: search, role filter, sort and paging (all answered by the server), role changes and removals. */

import { formatDate, fullName, initials, roleLabel } from './format';
import type { MemberOrderField, TeamPageQuery } from './gql/graphql';
import { ROLES } from './InviteForm';
import { RemoveMember, UpdateMemberRole } from './operations';
import type { Act } from './TeamPage';

type Member = TeamPageQuery['organization']['members']['members'][number];

export interface MemberFilters {
  search: string;
  /** A role key, or '' for all. */
  role: string;
  order: MemberOrderField;
  /** Zero-based. */
  page: number;
}

const ORDERS: Record<MemberOrderField, string> = {
  JOINED_AT: 'Newest first',
  NAME: 'Name (A–Z)',
  EMAIL: 'Email (A–Z)',
};

export function MembersTable({
  organizationId,
  viewerId,
  members,
  totalCount,
  pageSize,
  filters,
  onFilters,
  canManage,
  act,
}: {
  organizationId: string;
  viewerId: string;
  members: Member[];
  totalCount: number;
  pageSize: number;
  filters: MemberFilters;
  onFilters: (filters: MemberFilters) => void;
  canManage: boolean;
  act: Act;
}) {
  // A new search, filter or order starts again at the first page.
  const refine = (change: Partial<MemberFilters>) => onFilters({ ...filters, page: 0, ...change });
  const first = filters.page * pageSize;
  const roles = [...new Set([...ROLES, ...members.map((member) => member.role)])];

  return (
    <section className="card">
      <div className="row toolbar">
        <h2>Members</h2>
        <input
          type="search"
          data-testid="search"
          placeholder="Search name or email"
          value={filters.search}
          onChange={(event) => refine({ search: event.target.value })}
        />
        <select
          value={filters.role}
          onChange={(event) => refine({ role: event.target.value })}
          aria-label="Role"
        >
          <option value="">All roles</option>
          {roles.map((key) => (
            <option key={key} value={key}>
              {roleLabel(key)}
            </option>
          ))}
        </select>
        <select
          value={filters.order}
          onChange={(event) => refine({ order: event.target.value as MemberOrderField })}
          aria-label="Sort"
        >
          {Object.entries(ORDERS).map(([field, label]) => (
            <option key={field} value={field}>
              {label}
            </option>
          ))}
        </select>
      </div>
      <table>
        <thead>
          <tr>
            <th>Name</th>
            <th>Email</th>
            <th>Role</th>
            <th>Joined</th>
            {canManage && <th aria-label="Actions" />}
          </tr>
        </thead>
        <tbody>
          {members.map((member) => (
            <tr key={member.userId} data-testid="member-row" data-user-id={member.userId}>
              <td>
                <span className="name">
                  {/* Initials, not member.imageUrl: Clerk's images come from its CDN; this page works offline. */}
                  <span className="avatar" aria-hidden="true">
                    {initials(member)}
                  </span>
                  {fullName(member)}
                  {member.userId === viewerId && <span className="muted">(you)</span>}
                </span>
              </td>
              <td>{member.email}</td>
              <td>
                {canManage ? (
                  <select
                    data-testid="role-select"
                    value={member.role}
                    aria-label={`Role of ${fullName(member)}`}
                    onChange={(event) =>
                      act(UpdateMemberRole, {
                        id: organizationId,
                        userId: member.userId,
                        role: event.target.value,
                      })
                    }
                  >
                    {roles.map((key) => (
                      <option key={key} value={key}>
                        {roleLabel(key)}
                      </option>
                    ))}
                  </select>
                ) : (
                  roleLabel(member.role)
                )}
              </td>
              <td>{formatDate(member.createdAt)}</td>
              {canManage && (
                <td className="actions">
                  {member.userId !== viewerId && (
                    <button
                      type="button"
                      className="link danger"
                      data-testid="remove-member"
                      onClick={() => act(RemoveMember, { id: organizationId, userId: member.userId })}
                    >
                      Remove
                    </button>
                  )}
                </td>
              )}
            </tr>
          ))}
          {members.length === 0 && (
            <tr>
              <td colSpan={5} className="muted">
                No members match.
              </td>
            </tr>
          )}
        </tbody>
      </table>
      <div className="row pager">
        <span className="muted">
          {totalCount === 0 ? 'None' : `${first + 1}–${first + members.length} of ${totalCount}`}
        </span>
        <button
          type="button"
          disabled={filters.page === 0}
          onClick={() => onFilters({ ...filters, page: filters.page - 1 })}
        >
          Previous
        </button>
        <button
          type="button"
          disabled={first + pageSize >= totalCount}
          onClick={() => onFilters({ ...filters, page: filters.page + 1 })}
        >
          Next
        </button>
      </div>
    </section>
  );
}
