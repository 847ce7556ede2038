/**
 * This process's live streams (`subscription { teamChanged }`): who holds one on which organization, the limits,
 * the event numbering, and every rule that ends a stream. No GraphQL here: the subscription field
 * (`src/graphql/types/team-changed.ts`) authorizes, opens a stream, and turns its items into events.
 *
 * - **One bus subscription per organization per process**, however many streams watch it: a change heard on the
 *   bus is numbered once and handed to every local stream of that organization.
 * - **Versions**: one counter per process, so an organization's versions only ever grow in this process (with
 *   gaps: the counter is shared by all organizations). A stream's first event carries the counter as it was when
 *   the stream opened. Not comparable across processes or restarts: a client takes an `INITIAL` event as the state,
 *   whatever its version.
 * - **Slow consumers cannot grow memory**: a stream holds at most one pending change. Every event carries the
 *   whole current state, so changes that arrive before the consumer took the previous one merge (reasons united,
 *   newest version): the consumer skips states, never the latest one.
 * - **A stream ends** when a revocation applies to it (its user's membership, the user, or the organization
 *   deleted: `forbidden`), when Clerk ends its session (`session_ended`), at its deadline (`expired`: the maximum
 *   lifetime, or the token's expiry if sooner), on shutdown (`shutdown`), or when the client goes (`client`). An
 *   end drops a pending change: nothing more is shown to someone who just lost access.
 */
import { ANY, type Revocations } from '../team/revocations.js';
import type { TeamEventBus } from './team-events.js';
import type { SessionEndedMessage, TeamChangeMessage, TeamChangeReason } from './types.js';

export type EndCause = 'forbidden' | 'session_ended' | 'expired' | 'shutdown' | 'client';

export type StreamItem =
  | { kind: 'change'; version: number; reasons: TeamChangeReason[] }
  /** The last item of a stream the server ended (never after `client`: nobody is listening). */
  | { kind: 'end'; cause: Exclude<EndCause, 'client'> };

/** A stream of one organization's changes, for one subscriber. Iterate it once. */
export interface LiveStream extends AsyncIterableIterator<StreamItem> {
  readonly organizationId: string;
  /** The process's event counter when the stream opened: the version of its initial event. */
  readonly version: number;
  /** Ends the stream from the server's side (an end item follows, then done). Idempotent. */
  end(cause: Exclude<EndCause, 'client'>): void;
  /** Ends it from the consumer's side: no end item, and a pending `next()` resolves done at once. */
  return(): Promise<IteratorResult<StreamItem>>;
}

export type StreamLimit = 'user' | 'process';

export class TooManyStreamsError extends Error {
  constructor(
    readonly limit: StreamLimit,
    readonly max: number,
  ) {
    super(
      limit === 'user'
        ? `Too many live streams for this user (at most ${max} at once). Close one (another tab?) first.`
        : `This server holds its maximum of ${max} live streams. Retry later.`,
    );
    this.name = 'TooManyStreamsError';
  }
}

/** Metrics hooks; all optional. */
export interface LiveStreamsObserver {
  opened?(): void;
  ended?(cause: EndCause): void;
  refused?(limit: StreamLimit): void;
  /** An organization's change reached this process's streams (once per change, not per stream). */
  changed?(reasons: readonly TeamChangeReason[]): void;
}

export interface LiveStreamsOptions {
  /**
   * Where changes and session ends come from: this process's own bus (src/subscriptions/team-events.ts), also with
   * Redis, whose replicas each announce to their own streams.
   */
  bus: TeamEventBus;
  /** Streams one user may hold open at once in this process, all organizations and tabs together. @default 20 */
  maxPerUser?: number;
  /** Streams this process holds open at most. @default 10000 */
  maxStreams?: number;
  /**
   * The longest a stream lives; then it completes, and the client reconnects with a fresh token. A stream also
   * ends when the token that opened it expires, if that is sooner. @default 900000 (15 minutes)
   */
  maxLifetimeMs?: number;
  observer?: LiveStreamsObserver;
  /** Injectable clock. @default a late-bound Date.now */
  now?: () => number;
}

export interface OpenStreamOptions {
  userId: string;
  /** The session that opened it (the token's `sid`); null: no session end can match it. */
  sessionId: string | null;
  organizationId: string;
  /** When the token that opened the stream expires (epoch ms); null: only the maximum lifetime applies. */
  expiresAt?: number | null;
}

export interface LiveStreams {
  /** Opens a stream, already listening (nothing published after this returns is missed). */
  open(options: OpenStreamOptions): LiveStream;
  /** A revocation was recorded (`ANY` for either side): the streams it applies to end `forbidden`. */
  revoked(userId: string, organizationId: string): void;
  /** Clerk ended a session: announced on the bus, so its streams end in every process. */
  sessionEnded(message: SessionEndedMessage): void;
  /** An organization was re-read after a burst of webhooks: announced on the bus, one event per stream. */
  changed(message: TeamChangeMessage): void;
  /** Whether a stream of this process watches the organization (refresh-ahead then re-reads it, cached or not). */
  watching(organizationId: string): boolean;
  stats(): { open: number; organizations: number };
  /** Ends every stream (`shutdown`: they complete, clients reconnect) and stops listening to the bus. */
  close(): void;
}

const DEFAULT_MAX_PER_USER = 20;
const DEFAULT_MAX_STREAMS = 10_000;
const DEFAULT_MAX_LIFETIME_MS = 15 * 60 * 1000;
const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined };

class Stream implements LiveStream {
  /** At most one change waits for the consumer: later ones merge into it. */
  private pending: { version: number; reasons: Set<TeamChangeReason> } | undefined;
  private cause: EndCause | undefined;
  private endDelivered = false;
  private wake: (() => void) | undefined;
  timer: NodeJS.Timeout | undefined;

  constructor(
    readonly options: OpenStreamOptions,
    readonly version: number,
    private readonly detach: (stream: Stream, cause: EndCause) => void,
  ) {}

  get organizationId() {
    return this.options.organizationId;
  }

  push(version: number, reasons: readonly TeamChangeReason[]) {
    if (this.cause) return;
    if (this.pending) {
      this.pending.version = version;
      for (const reason of reasons) this.pending.reasons.add(reason);
    } else {
      this.pending = { version, reasons: new Set(reasons) };
    }
    this.wake?.();
  }

  end(cause: EndCause) {
    if (this.cause) return;
    this.cause = cause;
    this.pending = undefined;
    clearTimeout(this.timer);
    this.detach(this, cause);
    this.wake?.();
  }

  async next(): Promise<IteratorResult<StreamItem>> {
    for (;;) {
      if (this.pending) {
        const { version, reasons } = this.pending;
        this.pending = undefined;
        return { done: false, value: { kind: 'change', version, reasons: [...reasons] } };
      }
      if (this.cause) {
        if (this.cause === 'client' || this.endDelivered) return DONE;
        this.endDelivered = true;
        return { done: false, value: { kind: 'end', cause: this.cause } };
      }
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
      this.wake = undefined;
    }
  }

  async return(): Promise<IteratorResult<StreamItem>> {
    this.end('client');
    this.endDelivered = true;
    return DONE;
  }

  [Symbol.asyncIterator]() {
    return this;
  }
}

interface Watch {
  streams: Set<Stream>;
  changes: AsyncIterableIterator<TeamChangeMessage>;
}

export function createLiveStreams(options: LiveStreamsOptions): LiveStreams {
  const { bus, observer = {} } = options;
  const now = options.now ?? (() => Date.now());
  const maxPerUser = options.maxPerUser ?? DEFAULT_MAX_PER_USER;
  const maxStreams = options.maxStreams ?? DEFAULT_MAX_STREAMS;
  const maxLifetimeMs = options.maxLifetimeMs ?? DEFAULT_MAX_LIFETIME_MS;

  /** The event counter (see the versions note above). */
  let version = 0;
  let open = 0;
  const byOrganization = new Map<string, Watch>();
  const byUser = new Map<string, Set<Stream>>();

  async function pump(organizationId: string, watch: Watch) {
    for await (const message of watch.changes) {
      if (byOrganization.get(organizationId) !== watch) return;
      version += 1;
      observer.changed?.(message.reasons);
      for (const stream of watch.streams) stream.push(version, message.reasons);
    }
  }

  function detach(stream: Stream, cause: EndCause) {
    const { organizationId, userId } = stream.options;
    const watch = byOrganization.get(organizationId);
    if (watch?.streams.delete(stream) && watch.streams.size === 0) {
      byOrganization.delete(organizationId);
      void watch.changes.return?.();
    }
    const mine = byUser.get(userId);
    if (mine?.delete(stream) && mine.size === 0) byUser.delete(userId);
    open -= 1;
    observer.ended?.(cause);
  }

  const sessionEnds = bus.sessionsEnded();
  void (async () => {
    for await (const { sessionId, userId } of sessionEnds) {
      const candidates = userId
        ? (byUser.get(userId) ?? [])
        : [...byUser.values()].flatMap((set) => [...set]);
      for (const stream of [...candidates]) {
        if (stream.options.sessionId === sessionId) stream.end('session_ended');
      }
    }
  })();

  return {
    open(streamOptions) {
      const { userId, organizationId } = streamOptions;
      const mine = byUser.get(userId);
      if (open >= maxStreams) {
        observer.refused?.('process');
        throw new TooManyStreamsError('process', maxStreams);
      }
      if ((mine?.size ?? 0) >= maxPerUser) {
        observer.refused?.('user');
        throw new TooManyStreamsError('user', maxPerUser);
      }
      const stream = new Stream(streamOptions, version, detach);
      let watch = byOrganization.get(organizationId);
      if (!watch) {
        watch = { streams: new Set(), changes: bus.changes(organizationId) };
        byOrganization.set(organizationId, watch);
        // Starts iterating at once (the bus listens from the first next()), before open() returns.
        void pump(organizationId, watch);
      }
      watch.streams.add(stream);
      if (mine) mine.add(stream);
      else byUser.set(userId, new Set([stream]));
      open += 1;
      observer.opened?.();

      const deadline = Math.min(now() + maxLifetimeMs, streamOptions.expiresAt ?? Number.POSITIVE_INFINITY);
      stream.timer = setTimeout(() => stream.end('expired'), Math.max(0, deadline - now()));
      stream.timer.unref();
      return stream;
    },
    revoked(userId, organizationId) {
      const candidates =
        organizationId !== ANY
          ? (byOrganization.get(organizationId)?.streams ?? [])
          : userId !== ANY
            ? (byUser.get(userId) ?? [])
            : [...byUser.values()].flatMap((set) => [...set]);
      for (const stream of [...candidates]) {
        if (userId === ANY || stream.options.userId === userId) stream.end('forbidden');
      }
    },
    sessionEnded: (message) => bus.publishSessionEnded(message),
    changed: (message) => bus.publishChange(message),
    watching: (organizationId) => byOrganization.has(organizationId),
    stats: () => ({ open, organizations: byOrganization.size }),
    close() {
      for (const streams of [...byUser.values()]) for (const stream of [...streams]) stream.end('shutdown');
      void sessionEnds.return?.();
    },
  };
}

/**
 * The revocation store, telling the live streams about every record as it is made: a removal ends the removed
 * member's streams at once, whether the record came from a webhook here or (with Redis) from another replica.
 */
export function notifyingRevocations(
  revocations: Revocations,
  onRecord: (userId: string, organizationId: string) => void,
): Revocations {
  return {
    record(userId, organizationId) {
      revocations.record(userId, organizationId);
      onRecord(userId, organizationId);
    },
    revokedAt: (userId, organizationId, kind) => revocations.revokedAt(userId, organizationId, kind),
    size: () => revocations.size(),
  };
}
