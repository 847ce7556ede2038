/**
 * What each Clerk event invalidates and revokes, what its live subscribers are told (the reason), and which
 * sessions it ends (pure mapping; the end-to-end path is in webhooks.test.ts, authorization.test.ts and
 * subscriptions.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { asClerkEvent, effectsOf, MalformedEventError } from '../src/clerk/events.js';
import { ANY } from '../src/team/revocations.js';

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

describe('payload → patch (only when the payload holds every field the roster or invitation list shows)', () => {
  const membership = {
    object: 'organization_membership',
    id: 'orgmem_1',
    role: 'org:admin',
    permissions: ['org:sys_memberships:manage', 'org:sys_memberships:read'],
    organization: { id: 'org_1' },
    public_user_data: {
      user_id: 'user_1',
      first_name: 'Ana',
      last_name: null,
      identifier: 'ana@example.test',
      image_url: '',
    },
    created_at: 1_700_000_000_000,
    updated_at: 1_700_000_001_000,
  };
  const user = {
    id: 'user_1',
    first_name: 'Ana',
    last_name: 'Lima',
    image_url: 'https://img.example/ana',
    primary_email_address_id: 'idn_1',
    email_addresses: [
      { id: 'idn_0', email_address: 'old@example.test' },
      { id: 'idn_1', email_address: 'ana@example.test' },
    ],
    updated_at: 1_700_000_002_000,
  };

  it('a full membership payload is a member upsert, versioned by updated_at, with the SDK mapping (blank → null)', () => {
    expect(effectsOf({ type: 'organizationMembership.updated', data: membership }).patches).toEqual([
      {
        reason: 'MEMBER_UPDATED',
        delta: {
          kind: 'memberUpsert',
          organizationId: 'org_1',
          member: {
            membershipId: 'orgmem_1',
            userId: 'user_1',
            firstName: 'Ana',
            lastName: null,
            email: 'ana@example.test',
            imageUrl: null,
            role: 'org:admin',
            permissions: ['org:sys_memberships:manage', 'org:sys_memberships:read'],
            createdAt: '2023-11-14T22:13:20.000Z',
            version: 1_700_000_001_000,
          },
        },
      },
    ]);
  });

  it.each([
    ['without updated_at', { ...membership, updated_at: undefined }],
    ['with a string date', { ...membership, created_at: '2023-11-14' }],
    ['without permissions (Clerk always sends them)', { ...membership, permissions: undefined }],
    [
      'without image_url',
      { ...membership, public_user_data: { ...membership.public_user_data, image_url: undefined } },
    ],
    [
      'with a numeric name',
      { ...membership, public_user_data: { ...membership.public_user_data, first_name: 7 } },
    ],
  ])('a membership payload %s invalidates the roster instead', (_name, data) => {
    const effects = effectsOf({
      type: 'organizationMembership.created',
      data: JSON.parse(JSON.stringify(data)),
    });
    expect(effects.patches).toBeUndefined();
    expect(effects.invalidations[0]).toEqual({
      kind: 'organization',
      organizationId: 'org_1',
      reason: 'MEMBER_ADDED',
    });
  });

  it('user.updated with a primary email address is a profile patch; without one, an invalidation', () => {
    expect(effectsOf({ type: 'user.updated', data: user })).toEqual({
      invalidations: [],
      revocations: [],
      patches: [
        {
          reason: 'MEMBER_UPDATED',
          delta: {
            kind: 'profile',
            userId: 'user_1',
            version: 1_700_000_002_000,
            profile: {
              firstName: 'Ana',
              lastName: 'Lima',
              email: 'ana@example.test',
              imageUrl: 'https://img.example/ana',
            },
          },
        },
      ],
    });
    expect(effectsOf({ type: 'user.updated', data: { ...user, primary_email_address_id: null } })).toEqual({
      invalidations: [{ kind: 'user', userId: 'user_1', reason: 'MEMBER_UPDATED' }],
      revocations: [],
    });
  });

  it('invitations: created with every field is added, accepted and revoked are removed by ID', () => {
    const invitation = {
      id: 'orginv_1',
      organization_id: 'org_2',
      email_address: 'new@example.test',
      role: 'org:member',
      status: 'pending',
      created_at: 1_700_000_000_000,
      updated_at: 1_700_000_000_000,
      expires_at: 1_702_592_000_000,
    };
    expect(
      effectsOf({ type: 'organizationInvitation.created', data: invitation }).patches?.[0]?.delta,
    ).toEqual({
      kind: 'invitationUpsert',
      organizationId: 'org_2',
      invitation: {
        id: 'orginv_1',
        email: 'new@example.test',
        role: 'org:member',
        status: 'pending',
        createdAt: '2023-11-14T22:13:20.000Z',
        expiresAt: '2023-12-14T22:13:20.000Z',
        version: 1_700_000_000_000,
      },
    });
    expect(
      effectsOf({ type: 'organizationInvitation.revoked', data: invitation }).patches?.[0]?.delta,
    ).toEqual({
      kind: 'invitationRemoval',
      organizationId: 'org_2',
      invitationId: 'orginv_1',
    });
  });

  it('effects are plain JSON (they may travel to other replicas)', () => {
    const effects = effectsOf({ type: 'organizationMembership.created', data: membership });
    expect(JSON.parse(JSON.stringify(effects))).toEqual(effects);
  });
});
