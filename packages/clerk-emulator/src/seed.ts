/**
 * The deterministic 'demo' seed: same IDs, names and timestamps on every run (seeded PRNG, fixed base time).
 *
 * - acme: 2 admins, 6 members, 3 pending invitations and 1 revoked one (so status filtering matters)
 * - globex: exactly 500 members (3 admins), initech: exactly 2,500 members (5 admins)
 * - one outsider user who belongs to no organization
 */
import type { DemoFixture } from './contract.js';
import { randomInt, seededRandom } from './ids.js';
import { INVITATION_LIFETIME_MS, type Store, uploadedImageUrl } from './store.js';

export const DEMO_SEED = 20_260_112;
/** 2026-01-12T09:00:00Z; records are spaced 30–90 s apart after it. */
export const DEMO_BASE_TIME_MS = Date.UTC(2026, 0, 12, 9, 0, 0);

const ACME_ADMINS = [
  ['Alice', 'Chen'],
  ['Marco', 'Rossi'],
] as const;

const ACME_MEMBERS = [
  ['Priya', 'Patel'],
  ['Jonas', 'Weber'],
  ['Sofia', 'Garcia'],
  ['Kenji', 'Tanaka'],
  ['Nia', 'Okafor'],
  ['Lucas', 'Silva'],
] as const;

const ACME_PENDING_INVITATIONS = [
  { emailAddress: 'grace.hopper@acme.test', role: 'org:member' },
  { emailAddress: 'linus.berg@contractors.test', role: 'org:member' },
  { emailAddress: 'eva.moreau@acme.test', role: 'org:admin' },
] as const;

const ACME_REVOKED_INVITATION = { emailAddress: 'former.intern@example.com', role: 'org:member' } as const;

/** Seeds `store` (which must be new and created with `{ seed: DEMO_SEED }`) and returns the fixture. */
export function seedDemo(store: Store): DemoFixture {
  const random = seededRandom(DEMO_SEED ^ 0x9e3779b9);
  store.useVirtualClock(DEMO_BASE_TIME_MS, () => 30_000 + randomInt(random, 60_000));
  try {
    const person = (first: string, last: string, domain: string, withImage = false) =>
      store.createUser({
        firstName: first,
        lastName: last,
        emailAddress: `${first}.${last}@${domain}`.toLowerCase(),
        ...(withImage ? { imageUrl: uploadedImageUrl(store.ids.next('user').slice(5)) } : {}),
      });

    // acme
    const admins = ACME_ADMINS.map(([first, last]) => person(first, last, 'acme.test', true));
    const [founder, secondAdmin] = admins;
    if (!founder || !secondAdmin) throw new Error('demo seed: missing acme admins');
    const acme = store.createOrganization({ name: 'Acme Corporation', slug: 'acme', createdBy: founder.id });
    store.addMembership(acme.id, founder.id, 'org:admin');
    store.addMembership(acme.id, secondAdmin.id, 'org:admin');
    const members = ACME_MEMBERS.map(([first, last]) => {
      const user = person(first, last, 'acme.test');
      store.addMembership(acme.id, user.id, 'org:member');
      return user;
    });
    const revoked = store.addInvitation(acme.id, { ...ACME_REVOKED_INVITATION, inviterUserId: founder.id });
    store.setInvitationStatus(revoked, 'revoked');
    const pending = ACME_PENDING_INVITATIONS.map((invitation, index) =>
      store.addInvitation(acme.id, {
        ...invitation,
        inviterUserId: (index % 2 === 0 ? founder : secondAdmin).id,
      }),
    );

    // globex: 500 members
    const globex = store.createOrganization({ name: 'Globex Inc.', slug: 'globex' });
    const globexAdmins = store.populate(globex.id, 3, 'org:admin');
    store.populate(globex.id, 497, 'org:member');
    globex.createdBy = globexAdmins[0]?.userId ?? null;

    // initech: 2,500 members
    const initech = store.createOrganization({ name: 'Initech', slug: 'initech' });
    const initechAdmins = store.populate(initech.id, 5, 'org:admin');
    store.populate(initech.id, 2495, 'org:member');
    initech.createdBy = initechAdmins[0]?.userId ?? null;

    const outsider = person('Milton', 'Waddams', 'example.com');

    store.useRealClock();
    // Invitations expire (as in Clerk) and the fixture is dated in the past, so the demo's pending invitations
    // get Clerk's default lifetime counted from the emulator's start: they stay pending whatever the date, for
    // 30 days of uptime. (Their expires_at is the one demo value that depends on when the emulator starts.)
    for (const invitation of pending) invitation.expiresAt = store.clock() + INVITATION_LIFETIME_MS;

    return {
      acme: {
        organizationId: acme.id,
        slug: 'acme',
        adminUserIds: admins.map((u) => u.id),
        memberUserIds: members.map((u) => u.id),
        pendingInvitationIds: pending.map((i) => i.id),
      },
      globex: { organizationId: globex.id, slug: 'globex', memberCount: 500 },
      initech: { organizationId: initech.id, slug: 'initech', memberCount: 2500 },
      outsiderUserId: outsider.id,
    };
  } finally {
    store.useRealClock();
  }
}
