/**
 * The live streams of one process, without HTTP or GraphQL: coalescing for slow consumers, ends, matching of
 * revocations and session ends, limits, versions, and one bus subscription per organization.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  createLiveStreams,
  type LiveStream,
  type LiveStreams,
  TooManyStreamsError,
} from '../src/subscriptions/live-streams.js';
import { createTeamEventBus, type TeamEventBus } from '../src/subscriptions/team-events.js';
import { ANY } from '../src/team/revocations.js';

let hub: LiveStreams | undefined;
afterEach(() => {
  hub?.close();
  vi.useRealTimers();
});

function setUp(options: Partial<Parameters<typeof createLiveStreams>[0]> = {}) {
  const bus: TeamEventBus = options.bus ?? createTeamEventBus();
  const ended: string[] = [];
  hub = createLiveStreams({ bus, observer: { ended: (cause) => ended.push(cause) }, ...options });
  return { hub, bus, ended };
}

const open = (
  streams: LiveStreams,
  userId: string,
  organizationId = 'org_1',
  sessionId: string | null = null,
) => streams.open({ userId, sessionId, organizationId });

/** The items a stream has ready now, without waiting for more (an end is the last). */
async function drain(stream: LiveStream, count: number) {
  const items = [];
  for (let i = 0; i < count; i++) items.push((await stream.next()).value);
  return items;
}

describe('live streams', () => {
  it('a slow consumer gets one merged change (reasons united, newest version), never a backlog', async () => {
    const { hub } = setUp();
    const stream = open(hub, 'user_1');
    expect(stream.version).toBe(0);
    hub.changed({ organizationId: 'org_1', reasons: ['MEMBER_ADDED'] });
    hub.changed({ organizationId: 'org_1', reasons: ['MEMBER_UPDATED', 'MEMBER_ADDED'] });
    hub.changed({ organizationId: 'org_1', reasons: ['INVITATION_CREATED'] });
    // One turn of the event loop: the bus has delivered all three (it works in microtasks), nobody consumed them.
    await new Promise((resolve) => setImmediate(resolve));
    expect((await stream.next()).value).toEqual({
      kind: 'change',
      version: 3,
      reasons: ['MEMBER_ADDED', 'MEMBER_UPDATED', 'INVITATION_CREATED'],
    });
    hub.changed({ organizationId: 'org_1', reasons: ['ORGANIZATION_UPDATED'] });
    expect((await stream.next()).value).toEqual({
      kind: 'change',
      version: 4,
      reasons: ['ORGANIZATION_UPDATED'],
    });
    // A stream opened now starts from the version its initial event shows.
    expect(open(hub, 'user_2').version).toBe(4);
  });

  it('an end drops a pending change, is delivered once, then the stream is done', async () => {
    const { hub, ended } = setUp();
    const stream = open(hub, 'user_1');
    hub.changed({ organizationId: 'org_1', reasons: ['MEMBER_ADDED'] });
    // The change has reached the stream (pending, not taken) when the revocation lands.
    await new Promise((resolve) => setImmediate(resolve));
    hub.revoked('user_1', 'org_1');
    expect(await drain(stream, 2)).toEqual([{ kind: 'end', cause: 'forbidden' }, undefined]);
    expect(ended).toEqual(['forbidden']);
    expect(hub.stats()).toEqual({ open: 0, organizations: 0 });
  });

  it('return() resolves a pending next() at once and frees the stream', async () => {
    const { hub, ended } = setUp();
    const stream = open(hub, 'user_1');
    const waiting = stream.next();
    await stream.return();
    expect(await waiting).toEqual({ done: true, value: undefined });
    expect(ended).toEqual(['client']);
    expect(hub.watching('org_1')).toBe(false);
  });

  it.each([
    ['the membership', 'user_1', 'org_1', ['forbidden', 'open', 'open']],
    ['the organization', ANY, 'org_1', ['forbidden', 'forbidden', 'open']],
    ['the user', 'user_1', ANY, ['forbidden', 'open', 'forbidden']],
  ])(
    'a revocation of %s ends exactly the streams it applies to',
    async (_name, userId, organizationId, expected) => {
      const { hub } = setUp();
      const streams = [
        open(hub, 'user_1', 'org_1'),
        open(hub, 'user_2', 'org_1'),
        open(hub, 'user_1', 'org_2'),
      ];
      hub.revoked(userId, organizationId);
      hub.changed({ organizationId: 'org_1', reasons: ['MEMBER_REMOVED'] });
      hub.changed({ organizationId: 'org_2', reasons: ['MEMBER_REMOVED'] });
      const states = await Promise.all(
        streams.map(async (stream) => ((await stream.next()).value?.kind === 'end' ? 'forbidden' : 'open')),
      );
      expect(states).toEqual(expected);
    },
  );

  it('a session end (through the bus) ends the streams of that session only, with or without its user', async () => {
    const { hub } = setUp();
    const a = open(hub, 'user_1', 'org_1', 'sess_a');
    const b = open(hub, 'user_1', 'org_2', 'sess_a');
    const c = open(hub, 'user_1', 'org_1', 'sess_c');
    hub.sessionEnded({ sessionId: 'sess_a', userId: null });
    expect((await a.next()).value).toEqual({ kind: 'end', cause: 'session_ended' });
    expect((await b.next()).value).toEqual({ kind: 'end', cause: 'session_ended' });
    hub.sessionEnded({ sessionId: 'sess_c', userId: 'user_1' });
    expect((await c.next()).value).toEqual({ kind: 'end', cause: 'session_ended' });
  });

  it('refuses past the per-user and per-process limits, and makes room when a stream closes', async () => {
    const { hub } = setUp({ maxPerUser: 2, maxStreams: 3 });
    const first = open(hub, 'user_1');
    open(hub, 'user_1');
    expect(() => open(hub, 'user_1')).toThrow(expect.objectContaining({ limit: 'user', max: 2 }));
    open(hub, 'user_2');
    expect(() => open(hub, 'user_3')).toThrow(TooManyStreamsError);
    await first.return();
    expect(() => open(hub, 'user_3')).not.toThrow();
  });

  it.each([
    ['the token expiry, sooner than the lifetime', 60_000, 2_000, 2_000],
    ['the maximum lifetime, sooner than the token expiry', 1_000, 60_000, 1_000],
    ['the maximum lifetime, without a token expiry', 1_000, null, 1_000],
  ] as const)('ends a stream at its deadline: %s', async (_name, maxLifetimeMs, expiresInMs, endsAtMs) => {
    // A fake clock: the hub's own (Date) and its timers move only when the test says.
    vi.useFakeTimers({ toFake: ['Date', 'setTimeout', 'clearTimeout'] });
    const { hub, ended } = setUp({ maxLifetimeMs });
    const stream = hub.open({
      userId: 'user_1',
      sessionId: null,
      organizationId: 'org_1',
      expiresAt: expiresInMs === null ? null : Date.now() + expiresInMs,
    });
    const next = stream.next();
    await vi.advanceTimersByTimeAsync(endsAtMs - 1);
    // Not a moment before: still open, and a change still reaches it.
    expect(ended).toEqual([]);
    hub.changed({ organizationId: 'org_1', reasons: ['MEMBER_ADDED'] });
    expect((await next).value).toMatchObject({ kind: 'change', reasons: ['MEMBER_ADDED'] });
    const end = stream.next();
    await vi.advanceTimersByTimeAsync(1);
    expect(ended).toEqual(['expired']);
    expect((await end).value).toEqual({ kind: 'end', cause: 'expired' });
    expect(hub.stats()).toEqual({ open: 0, organizations: 0 });
  });

  it('a token already expired ends its stream at once', async () => {
    const { hub, ended } = setUp({ maxLifetimeMs: 60_000 });
    const stream = hub.open({
      userId: 'user_1',
      sessionId: null,
      organizationId: 'org_1',
      expiresAt: Date.now(),
    });
    expect((await stream.next()).value).toEqual({ kind: 'end', cause: 'expired' });
    expect(ended).toEqual(['expired']);
  });

  it('listens once per organization on the bus, and stops when its last stream goes', async () => {
    const bus = createTeamEventBus();
    let subscriptions = 0;
    const counting: TeamEventBus = {
      ...bus,
      changes(organizationId) {
        subscriptions += 1;
        return bus.changes(organizationId);
      },
    };
    const { hub } = setUp({ bus: counting });
    const streams = [open(hub, 'user_1'), open(hub, 'user_2'), open(hub, 'user_3')];
    expect(subscriptions).toBe(1);
    for (const stream of streams) await stream.return();
    expect(hub.watching('org_1')).toBe(false);
    open(hub, 'user_1');
    expect(subscriptions).toBe(2);
  });
});
