/** Which cached data each Clerk event invalidates (pure mapping; the end-to-end path is in webhooks.test.ts). */
import { describe, expect, it } from 'vitest';
import { asClerkEvent, invalidationFor, MalformedEventError } from '../src/webhooks/events.js';

const orgMembership = { object: 'organization_membership', id: 'orgmem_1', organization: { id: 'org_1' } };

describe('invalidationFor', () => {
  it.each([
    ['organizationMembership.created', orgMembership, { kind: 'organization', organizationId: 'org_1' }],
    ['organizationMembership.updated', orgMembership, { kind: 'organization', organizationId: 'org_1' }],
    ['organizationMembership.deleted', orgMembership, { kind: 'organization', organizationId: 'org_1' }],
    [
      'organizationInvitation.created',
      { organization_id: 'org_2' },
      { kind: 'organization', organizationId: 'org_2' },
    ],
    [
      'organizationInvitation.accepted',
      { organization_id: 'org_2' },
      { kind: 'organization', organizationId: 'org_2' },
    ],
    [
      'organizationInvitation.revoked',
      { organization_id: 'org_2' },
      { kind: 'organization', organizationId: 'org_2' },
    ],
    ['organization.created', { id: 'org_3' }, { kind: 'organization', organizationId: 'org_3' }],
    ['organization.updated', { id: 'org_3' }, { kind: 'organization', organizationId: 'org_3' }],
    [
      'organization.deleted',
      { id: 'org_3', deleted: true },
      { kind: 'organization', organizationId: 'org_3' },
    ],
    ['user.updated', { id: 'user_1' }, { kind: 'user', userId: 'user_1' }],
    ['user.deleted', { id: 'user_1', deleted: true }, { kind: 'user', userId: 'user_1' }],
    ['user.created', { id: 'user_1' }, { kind: 'none' }],
    ['role.updated', { id: 'role_1' }, { kind: 'all' }],
    ['permission.deleted', { id: 'perm_1' }, { kind: 'all' }],
    ['session.created', { id: 'sess_1' }, { kind: 'none' }],
    ['email.created', { id: 'ema_1' }, { kind: 'none' }],
  ])('%s', (type, data, expected) => {
    expect(invalidationFor({ type, data })).toEqual(expected);
  });

  it('refuses an event whose data lacks the organization it is about', () => {
    expect(() =>
      invalidationFor({ type: 'organizationMembership.created', data: { organization: {} } }),
    ).toThrow(MalformedEventError);
    expect(() => invalidationFor({ type: 'user.updated', data: { id: 42 } })).toThrow(MalformedEventError);
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
