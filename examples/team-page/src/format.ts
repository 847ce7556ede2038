const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' });
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
const DAY_MS = 24 * 60 * 60 * 1000;

export const formatDate = (iso: string) => dateFormat.format(new Date(iso));

/** "in 29 days", "tomorrow", "in 5 hours". */
export function formatFromNow(iso: string): string {
  const ms = new Date(iso).getTime() - Date.now();
  if (Math.abs(ms) >= DAY_MS) return relative.format(Math.round(ms / DAY_MS), 'day');
  return relative.format(Math.round(ms / (60 * 60 * 1000)), 'hour');
}

/** Clerk's role keys, for people: org:admin → Admin; a custom role shows its key. */
export const roleLabel = (role: string) =>
  ({ 'org:admin': 'Admin', 'org:member': 'Member' })[role] ?? role.replace(/^org:/, '');

export const fullName = (person: {
  firstName: string | null;
  lastName: string | null;
  email: string | null;
}) => [person.firstName, person.lastName].filter(Boolean).join(' ') || person.email || 'Unnamed';

export const initials = (person: {
  firstName: string | null;
  lastName: string | null;
  email: string | null;
}) =>
  (
    [person.firstName?.[0], person.lastName?.[0]].filter(Boolean).join('') ||
    person.email?.[0] ||
    '?'
  ).toUpperCase();
