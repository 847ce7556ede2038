/**
 * Runtime knobs shared by the HTTP server and the control API: latency, injected faults, the per-key token
 * bucket rate limit, request counters and the request log.
 */
import type { FaultKind, FaultSpec, RateLimitSetting, RequestLogEntry } from './contract.js';

export const FAULT_KINDS: readonly FaultKind[] = ['status500', 'status503', 'rateLimit', 'hang', 'malformed'];

interface ActiveFault {
  route: string;
  kind: FaultKind;
  remaining: number | undefined;
  fraction: number | undefined;
  retryAfterSeconds: number;
}

export interface FaultHit {
  kind: FaultKind;
  retryAfterSeconds: number;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
}

const MAX_LOG = 100_000;

export function resolveRateLimit(
  setting: RateLimitSetting,
): { requests: number; windowMs: number } | undefined {
  if (setting === false) return undefined;
  if (setting === 'development') return { requests: 100, windowMs: 10_000 };
  if (setting === 'production') return { requests: 1000, windowMs: 10_000 };
  return { requests: setting.requests, windowMs: setting.windowMs };
}

export function validateFault(fault: FaultSpec): void {
  if (!FAULT_KINDS.includes(fault.kind)) {
    throw new Error(`fault kind must be one of ${FAULT_KINDS.join(', ')}`);
  }
  if (fault.count !== undefined && (!Number.isInteger(fault.count) || fault.count < 1)) {
    throw new Error('fault count must be a positive integer');
  }
  if (fault.fraction !== undefined && !(fault.fraction >= 0 && fault.fraction <= 1)) {
    throw new Error('fault fraction must be within 0..1');
  }
  if (
    fault.retryAfterSeconds !== undefined &&
    (!Number.isFinite(fault.retryAfterSeconds) || fault.retryAfterSeconds < 0)
  ) {
    throw new Error('fault retryAfterSeconds must be a non-negative number');
  }
}

export function validateRateLimit(setting: RateLimitSetting): void {
  if (setting === false || setting === 'development' || setting === 'production') return;
  if (
    typeof setting !== 'object' ||
    setting === null ||
    !Number.isFinite(setting.requests) ||
    setting.requests < 1 ||
    !Number.isFinite(setting.windowMs) ||
    setting.windowMs <= 0
  ) {
    throw new Error('rate limit must be false, "development", "production" or {requests >= 1, windowMs > 0}');
  }
}

export class Knobs {
  latencyMs = 0;
  jitterMs = 0;
  private faults: ActiveFault[] = [];
  private rateLimit: { requests: number; windowMs: number } | undefined;
  private rateLimitSetting: RateLimitSetting = false;
  private buckets = new Map<string, Bucket>();
  private counterMap = new Map<string, number>();
  private log: RequestLogEntry[] = [];

  setLatency(fixedMs: number, jitterMs = 0): void {
    if (!Number.isFinite(fixedMs) || fixedMs < 0 || !Number.isFinite(jitterMs) || jitterMs < 0) {
      throw new Error('latency must be non-negative numbers');
    }
    this.latencyMs = fixedMs;
    this.jitterMs = jitterMs;
  }

  /** Delay for one response: fixed plus uniform jitter in [0, jitterMs). */
  delayMs(): number {
    return this.latencyMs + (this.jitterMs > 0 ? Math.random() * this.jitterMs : 0);
  }

  injectFault(fault: FaultSpec): void {
    validateFault(fault);
    this.faults.push({
      route: fault.route ?? '*',
      kind: fault.kind,
      remaining: fault.count,
      fraction: fault.count === undefined ? fault.fraction : undefined,
      retryAfterSeconds: fault.retryAfterSeconds ?? 1,
    });
  }

  clearFaults(): void {
    this.faults = [];
  }

  activeFaults(): FaultSpec[] {
    return this.faults.map((fault) => ({
      route: fault.route,
      kind: fault.kind,
      ...(fault.remaining !== undefined ? { count: fault.remaining } : {}),
      ...(fault.fraction !== undefined ? { fraction: fault.fraction } : {}),
      retryAfterSeconds: fault.retryAfterSeconds,
    }));
  }

  /** The fault to apply to a request on `route`, consuming one use of a counted fault. */
  takeFault(route: string): FaultHit | undefined {
    for (const fault of this.faults) {
      if (fault.route !== '*' && fault.route !== route) continue;
      if (fault.remaining !== undefined) {
        if (fault.remaining <= 0) continue;
        fault.remaining -= 1;
        if (fault.remaining === 0) this.faults = this.faults.filter((f) => f !== fault);
        return { kind: fault.kind, retryAfterSeconds: fault.retryAfterSeconds };
      }
      if (fault.fraction !== undefined) {
        if (Math.random() < fault.fraction)
          return { kind: fault.kind, retryAfterSeconds: fault.retryAfterSeconds };
        continue;
      }
      return { kind: fault.kind, retryAfterSeconds: fault.retryAfterSeconds };
    }
    return undefined;
  }

  setRateLimit(setting: RateLimitSetting): void {
    validateRateLimit(setting);
    this.rateLimitSetting = setting;
    this.rateLimit = resolveRateLimit(setting);
    this.buckets.clear();
  }

  getRateLimit(): RateLimitSetting {
    return this.rateLimitSetting;
  }

  /** Takes a token for `key`; returns the Retry-After seconds when the bucket is empty. */
  takeRateLimitToken(key: string, now = Date.now()): number | undefined {
    const limit = this.rateLimit;
    if (!limit) return undefined;
    const refillPerMs = limit.requests / limit.windowMs;
    let bucket = this.buckets.get(key);
    if (!bucket) {
      bucket = { tokens: limit.requests, updatedAt: now };
      this.buckets.set(key, bucket);
    }
    bucket.tokens = Math.min(limit.requests, bucket.tokens + (now - bucket.updatedAt) * refillPerMs);
    bucket.updatedAt = now;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return undefined;
    }
    return Math.max(1, Math.ceil((1 - bucket.tokens) / refillPerMs / 1000));
  }

  record(entry: RequestLogEntry): void {
    this.counterMap.set(entry.route, (this.counterMap.get(entry.route) ?? 0) + 1);
    this.log.push(entry);
    if (this.log.length > MAX_LOG) this.log.splice(0, this.log.length - MAX_LOG);
  }

  counters(): Record<string, number> {
    return Object.fromEntries(this.counterMap);
  }

  resetCounters(): void {
    this.counterMap.clear();
    this.log = [];
  }

  requestLog(): RequestLogEntry[] {
    return this.log.map((entry) => ({ ...entry, query: { ...entry.query } }));
  }
}
