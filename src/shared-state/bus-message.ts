/**
 * The shape of what travels on the bus, checked **item by item**: Redis is shared infrastructure, so
 * anything may be published on the channel, and one bad item (a patch of another version's format, a truncated
 * invalidation) must not cost the good ones beside it. A message whose envelope is wrong is dropped; inside an
 * `effects` message each invalidation, revocation, patch and ended session is kept or dropped on its own, so a
 * malformed patch never skips the valid invalidation after it (or, worse, a revocation).
 */

import type { Delta } from '../team/deltas.js';
import {
  type EndedSession,
  type EventEffects,
  type Invalidation,
  type Patch,
  type Revocation,
  TEAM_CHANGE_REASONS,
} from '../team/effects.js';

export type BusMessage =
  /** A replica applied a webhook's effects; `touched`: the organizations it invalidated. */
  | { t: 'effects'; from: string; effects: EventEffects; touched: string[] }
  /** A single-flight lease on `key` ended (a copy was written, or the read failed): its waiters look again. */
  | { t: 'copy'; from: string; key: string }
  | { t: 'heartbeat'; from: string };

export interface ParsedBusMessage {
  /** Undefined when the text is not a bus message at all. */
  message: BusMessage | undefined;
  /** Items of an effects message left out because their shape is wrong. */
  dropped: number;
}

type Fields = Record<string, unknown>;
const isObject = (value: unknown): value is Fields => typeof value === 'object' && value !== null;
const isString = (value: unknown): value is string => typeof value === 'string';
const isNullable = (value: unknown): value is string | null => value === null || typeof value === 'string';
const isNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);
const REASONS: ReadonlySet<unknown> = new Set(TEAM_CHANGE_REASONS);

function isInvalidation(value: unknown): value is Invalidation {
  if (!isObject(value)) return false;
  switch (value.kind) {
    case 'organization':
      return isString(value.organizationId) && REASONS.has(value.reason);
    case 'user':
      return isString(value.userId) && REASONS.has(value.reason);
    case 'userMemberships':
      return isString(value.userId);
    case 'membershipListsOf':
      return isString(value.organizationId);
    case 'all':
      return true;
    default:
      return false;
  }
}

const isRevocation = (value: unknown): value is Revocation =>
  isObject(value) && isString(value.userId) && isString(value.organizationId);

const isEndedSession = (value: unknown): value is EndedSession =>
  isObject(value) && isString(value.sessionId) && isNullable(value.userId);

function isDelta(value: unknown): value is Delta {
  if (!isObject(value)) return false;
  switch (value.kind) {
    case 'memberUpsert': {
      const member = value.member;
      return (
        isString(value.organizationId) &&
        isObject(member) &&
        isString(member.membershipId) &&
        isString(member.userId) &&
        isNullable(member.firstName) &&
        isNullable(member.lastName) &&
        isNullable(member.email) &&
        isNullable(member.imageUrl) &&
        isString(member.role) &&
        isString(member.createdAt) &&
        isNumber(member.version)
      );
    }
    case 'memberRemoval':
      return isString(value.organizationId) && isString(value.membershipId) && isString(value.userId);
    case 'profile': {
      const profile = value.profile;
      return (
        isString(value.userId) &&
        isNumber(value.version) &&
        isObject(profile) &&
        isNullable(profile.firstName) &&
        isNullable(profile.lastName) &&
        isNullable(profile.email) &&
        isNullable(profile.imageUrl)
      );
    }
    case 'invitationUpsert': {
      const invitation = value.invitation;
      return (
        isString(value.organizationId) &&
        isObject(invitation) &&
        isString(invitation.id) &&
        isString(invitation.email) &&
        isString(invitation.role) &&
        isString(invitation.status) &&
        isString(invitation.createdAt) &&
        isNumber(invitation.version)
      );
    }
    case 'invitationRemoval':
      return isString(value.organizationId) && isString(value.invitationId);
    default:
      return false;
  }
}

const isPatch = (value: unknown): value is Patch =>
  isObject(value) && isDelta(value.delta) && REASONS.has(value.reason);

/** The items of `list` that pass `check`; `undefined` for an absent list, and any non-array counts as one bad item. */
function keep<T>(list: unknown, check: (item: unknown) => item is T, bad: { count: number }): T[] {
  if (list === undefined) return [];
  if (!Array.isArray(list)) {
    bad.count++;
    return [];
  }
  const kept = list.filter(check);
  bad.count += list.length - kept.length;
  return kept;
}

/** Parses one message from the channel; never throws. */
export function parseBusMessage(text: string): ParsedBusMessage {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { message: undefined, dropped: 0 };
  }
  if (!isObject(value) || !isString(value.from)) return { message: undefined, dropped: 0 };
  const from = value.from;
  if (value.t === 'heartbeat') return { message: { t: 'heartbeat', from }, dropped: 0 };
  if (value.t === 'copy') {
    return { message: isString(value.key) ? { t: 'copy', from, key: value.key } : undefined, dropped: 0 };
  }
  if (value.t !== 'effects' || !isObject(value.effects)) return { message: undefined, dropped: 0 };
  const raw = value.effects;
  const bad = { count: 0 };
  const patches = keep(raw.patches, isPatch, bad);
  const endedSessions = keep(raw.endedSessions, isEndedSession, bad);
  const effects: EventEffects = {
    invalidations: keep(raw.invalidations, isInvalidation, bad),
    revocations: keep(raw.revocations, isRevocation, bad),
    ...(patches.length > 0 ? { patches } : {}),
    ...(endedSessions.length > 0 ? { endedSessions } : {}),
    ...(raw.settleNow === true ? { settleNow: true } : {}),
  };
  // `touched` only widens which second-level copies are dropped: a bad entry is left out, never the message.
  const touched = keep(value.touched, isString, { count: 0 });
  return { message: { t: 'effects', from, effects, touched }, dropped: bad.count };
}
