/**
 * What each Clerk event invalidates and revokes, what its live subscribers are told (the reason), and which
 * sessions it ends (pure mapping; the end-to-end path is in webhooks.test.ts, authorization.test.ts and
 * subscriptions.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { ANY } from '../src/team/revocations.js';
import { asClerkEvent, effectsOf, MalformedEventError } from '../src/webhooks/events.js';

const orgMembership = {
  object: 'organization_membership',
  id: 'orgmem_1',
  organization: { id: 'org_1' },
  public_user_data: { user_id: 'user_1' },
};
const membershipInvalidations = (reason: string) => [
  { kind: 'organization', organizationId: 'org_1', reason },
  { kind: 'userMemberships', userId: 'user_1' },
  { kind: 'membershipListsOf', organizationId: 'org_1' },
];
const organizationInvalidations = [
  { kind: 'organization', organizationId: 'org_3', reason: 'ORGANIZATION_UPDATED' },
  { kind: 'membershipListsOf', organizationId: 'org_3' },
];
const invitation = (reason: string) => ({
  invalidations: [{ kind: 'organization', organizationId: 'org_2', reason }],
  revocations: [],
});
const none = { invalidations: [], revocations: [] };
const sessionData = { object: 'session', id: 'sess_1', user_id: 'user_1', status: 'ended' };
const sessionEnded = {
  invalidations: [],
  revocations: [],
  endedSessions: [{ sessionId: 'sess_1', userId: 'user_1' }],
};

describe('effectsOf', () => {
  it.each([
    [
      'organizationMembership.created',
      orgMembership,
      { invalidations: membershipInvalidations('MEMBER_ADDED'), revocations: [] },
    ],
    [
      'organizationMembership.updated',
      orgMembership,
      { invalidations: membershipInvalidations('MEMBER_UPDATED'), revocations: [] },
    ],
    [
      'organizationMembership.deleted',
      orgMembership,
      {
        // A deletion needs only the membership and its user: it is patched (removed, with a tombstone).
        invalidations: membershipInvalidations('MEMBER_REMOVED').slice(1),
        revocations: [{ userId: 'user_1', organizationId: 'org_1' }],
        patches: [
          {
            delta: {
              kind: 'memberRemoval',
              organizationId: 'org_1',
              membershipId: 'orgmem_1',
              userId: 'user_1',
            },
            reason: 'MEMBER_REMOVED',
          },
        ],
      },
    ],
    ['organizationInvitation.created', { organization_id: 'org_2' }, invitation('INVITATION_CREATED')],
    ['organizationInvitation.accepted', { organization_id: 'org_2' }, invitation('INVITATION_ACCEPTED')],
    ['organizationInvitation.revoked', { organization_id: 'org_2' }, invitation('INVITATION_REVOKED')],
    ['organization.created', { id: 'org_3' }, { invalidations: organizationInvalidations, revocations: [] }],
    ['organization.updated', { id: 'org_3' }, { invalidations: organizationInvalidations, revocations: [] }],
    [
      'organization.deleted',
      { id: 'org_3', deleted: true },
      { invalidations: organizationInvalidations, revocations: [{ userId: ANY, organizationId: 'org_3' }] },
    ],
    [
      'user.updated',
      { id: 'user_1' },
      { invalidations: [{ kind: 'user', userId: 'user_1', reason: 'MEMBER_UPDATED' }], revocations: [] },
    ],
    [
      'user.deleted',
      { id: 'user_1', deleted: true },
      {
        invalidations: [
          { kind: 'user', userId: 'user_1', reason: 'MEMBER_REMOVED' },
          { kind: 'userMemberships', userId: 'user_1' },
        ],
        revocations: [{ userId: 'user_1', organizationId: ANY }],
      },
    ],
    ['user.created', { id: 'user_1' }, none],
    ['role.updated', { id: 'role_1' }, { invalidations: [{ kind: 'all' }], revocations: [] }],
    ['permission.deleted', { id: 'perm_1' }, { invalidations: [{ kind: 'all' }], revocations: [] }],
    ['session.created', { id: 'sess_1', user_id: 'user_1' }, none],
    ['session.pending', { id: 'sess_1', user_id: 'user_1' }, none],
    ['session.ended', sessionData, sessionEnded],
    ['session.revoked', sessionData, sessionEnded],
    ['session.removed', sessionData, sessionEnded],
    ['email.created', { id: 'ema_1' }, none],
  ])('%s', (type, data, expected) => {
    expect(effectsOf({ type, data })).toEqual(expected);
  });

  it('a membership event without the member’s user data revokes the organization for everyone (fail safe)', () => {
    const { public_user_data: _, ...withoutUser } = orgMembership;
    expect(effectsOf({ type: 'organizationMembership.deleted', data: withoutUser })).toEqual({
      invalidations: [
        { kind: 'organization', organizationId: 'org_1', reason: 'MEMBER_REMOVED' },
        { kind: 'membershipListsOf', organizationId: 'org_1' },
      ],
      revocations: [{ userId: ANY, organizationId: 'org_1' }],
    });
  });

  it('refuses an event whose data lacks the organization it is about', () => {
    expect(() => effectsOf({ type: 'organizationMembership.created', data: { organization: {} } })).toThrow(
      MalformedEventError,
    );
    expect(() => effectsOf({ type: 'user.updated', data: { id: 42 } })).toThrow(MalformedEventError);
  });

  it('a session end names its session; one without a user still ends it (matched by session alone)', () => {
    expect(effectsOf({ type: 'session.revoked', data: { id: 'sess_9' } })).toEqual({
      invalidations: [],
      revocations: [],
      endedSessions: [{ sessionId: 'sess_9', userId: null }],
    });
    expect(() => effectsOf({ type: 'session.ended', data: { user_id: 'user_1' } })).toThrow(
      MalformedEventError,
    );
  });
});

describe('asClerkEvent', () => {
  it.each([null, 'text', [], { type: '' }, { type: 'user.updated' }, { type: 'user.updated', data: 'x' }])(
    'refuses %j',
    (payload) => {
      expect(() => asClerkEvent(payload)).toThrow(MalformedEventError);
    },
  );

  it('accepts the envelope Clerk sends', () => {
    expect(
      asClerkEvent({ type: 'user.updated', object: 'event', data: { id: 'user_1' }, timestamp: 1 }),
    ).toEqual({
      type: 'user.updated',
      data: { id: 'user_1' },
    });
  });
});
