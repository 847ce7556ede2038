/**
 * Write limits of team actions, taken before any Clerk write: a per-user limit (abuse: one account scripting
 * writes) and Clerk's documented invitation limits, which are instance-wide (250 invitation creates and 50 bulk
 * invitation calls per hour): refusing here answers `RATE_LIMITED` with a useful `retryAfter` instead of letting
 * Clerk answer 429 halfway through a bulk invite.
 *
 * A take is all or nothing: each limit is taken in turn, and when one refuses, what the others took is given back.
 * Counting is rate-limiter-flexible's fixed window from the first take (`duration`), in this process by default;
 * with REDIS_URL the Redis layer supplies limiters shared by every replica (`RateLimiterRedis`, atomic Lua), so the
 * instance-wide limits hold for the deployment. **Redis silent** (unreachable, paused past REDIS_TIMEOUT_MS,
 * refusing us): each limiter falls back on its in-memory insurance limiter, per replica, which counts from zero:
 * the per-user limit in full, and Clerk's instance-wide limits divided by the replicas assumed to share them
 * (CLERK_BUDGET_ASSUMED_REPLICAS), so several replicas cut off from Redis together still stay within Clerk's. When
 * Redis answers again its counters are used again (what was taken meanwhile is not added to them).
 */
import { type RateLimiterAbstract, RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';

/** Which limit refused a take. */
export type WriteLimit = 'user_writes' | 'invitation_creates' | 'invitation_bulk_calls';

/** What one write costs besides itself (which always counts one against the user's limit). */
export interface WriteCost {
  /** Invitations this write creates (each one against Clerk's hourly invitation creates). @default 0 */
  invitations?: number;
  /** Calls to Clerk's bulk invitation endpoint (≤ 10 invitations each). @default 0 */
  bulkCalls?: number;
}

export type WriteAllowance = { allowed: true } | { allowed: false; retryAfterMs: number; limit: WriteLimit };

export interface WriteLimits {
  /** Takes one write of `userId` and its cost from every limit, or nothing (and says which limit refused). */
  take(userId: string, cost: WriteCost): Promise<WriteAllowance>;
}

/** One limiter to make: `points` per `durationSeconds`, falling back on `insurance` when its store fails. */
export interface LimiterSpec {
  name: WriteLimit;
  points: number;
  durationSeconds: number;
  insurance: RateLimiterAbstract;
}

export interface WriteLimitsOptions {
  /** Writes one user may make per minute (WRITE_RATE_LIMIT_PER_MINUTE). @default 30 */
  userWritesPerMinute?: number;
  /** Invitations the Clerk instance may create per hour (CLERK_INVITATION_CREATES_PER_HOUR). @default 250 */
  invitationCreatesPerHour?: number;
  /** Bulk invitation calls per hour (CLERK_INVITATION_BULK_CALLS_PER_HOUR). @default 50 */
  invitationBulkCallsPerHour?: number;
  /**
   * Limiters shared by the replicas (the Redis layer's `writeLimiter`), each given its in-memory insurance.
   * @default none: every limit in this process
   */
  shared?: (spec: LimiterSpec) => RateLimiterAbstract;
  /**
   * Replicas assumed to share Clerk's instance-wide limits while a replica counts alone (its insurance limiters):
   * each takes this share of them. Only with `shared`. @default 1
   */
  assumedReplicas?: number;
  /** Which Clerk instance the instance-wide limits count for (replicas of one Clerk application share). @default 'clerk' */
  instanceKey?: string;
}

const points = (value: number | undefined) => Math.max(0, Math.floor(value ?? 0));

export function createWriteLimits(options: WriteLimitsOptions = {}): WriteLimits {
  const assumedReplicas = options.shared ? Math.max(1, options.assumedReplicas ?? 1) : 1;
  const instanceKey = options.instanceKey ?? 'clerk';
  const make = (name: WriteLimit, limit: number, durationSeconds: number, instanceWide: boolean) => {
    const insurance = new RateLimiterMemory({
      keyPrefix: name,
      points: instanceWide ? Math.max(1, Math.ceil(limit / assumedReplicas)) : limit,
      duration: durationSeconds,
    });
    return options.shared ? options.shared({ name, points: limit, durationSeconds, insurance }) : insurance;
  };
  const limiters = {
    user_writes: make('user_writes', options.userWritesPerMinute ?? 30, 60, false),
    invitation_creates: make('invitation_creates', options.invitationCreatesPerHour ?? 250, 3600, true),
    invitation_bulk_calls: make(
      'invitation_bulk_calls',
      options.invitationBulkCallsPerHour ?? 50,
      3600,
      true,
    ),
  } satisfies Record<WriteLimit, RateLimiterAbstract>;

  return {
    async take(userId, cost) {
      const steps: [WriteLimit, string, number][] = [
        ['user_writes', userId, 1],
        ['invitation_creates', instanceKey, points(cost.invitations)],
        ['invitation_bulk_calls', instanceKey, points(cost.bulkCalls)],
      ];
      const taken: [WriteLimit, string, number][] = [];
      const refund = () =>
        Promise.all(taken.map(([limit, key, count]) => limiters[limit].reward(key, count).catch(() => {})));
      for (const step of steps) {
        const [limit, key, count] = step;
        if (count === 0) continue;
        try {
          taken.push(step);
          await limiters[limit].consume(key, count);
        } catch (refusal) {
          // A refused take still counted its points (rate-limiter-flexible adds before it compares): they go back
          // too, so a smaller take can still fit.
          await refund();
          if (!(refusal instanceof RateLimiterRes)) throw refusal;
          return { allowed: false, retryAfterMs: Math.max(1, refusal.msBeforeNext), limit };
        }
      }
      return { allowed: true };
    },
  };
}
