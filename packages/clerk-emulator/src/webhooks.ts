/**
 * Svix-style webhook delivery: every write's events become messages (`msg_…`) with a Clerk envelope, signed per
 * attempt with svix 1.x and POSTed to each endpoint, retried with the same svix-id on `retryDelaysMs`.
 *
 * Per endpoint, first attempts go out one at a time in emit order (so `reorder` is observable); retries run on
 * their own timers. `settled()` resolves once nothing is queued, in flight or scheduled for retry.
 */
import { Webhook } from 'svix';
import type { WebhookDeliveryAttempt, WebhookDeliveryOptions, WebhookEndpoint } from './contract.js';
import { randomId } from './ids.js';

export interface WebhookEvent {
  type: string;
  data: Record<string, unknown>;
}

export interface HttpRequestInfo {
  clientIp: string;
  userAgent: string;
}

interface Message {
  msgId: string;
  type: string;
  body: string;
}

interface Job {
  endpoint: WebhookEndpoint;
  signer: Webhook;
  message: Message;
}

/** A reply slower than this counts as a failure, as with Svix. */
const ATTEMPT_TIMEOUT_MS = 15_000;
const MAX_LOG = 50_000;

export function validateEndpoint(endpoint: WebhookEndpoint): Webhook {
  try {
    new URL(endpoint.url);
  } catch {
    throw new Error(`invalid webhook endpoint url: ${endpoint.url}`);
  }
  try {
    return new Webhook(endpoint.secret);
  } catch (error) {
    throw new Error(`invalid webhook secret (expected whsec_<base64>): ${(error as Error).message}`);
  }
}

export class WebhookDispatcher {
  private readonly endpoints: { endpoint: WebhookEndpoint; signer: Webhook; queue: Promise<void> }[] = [];
  private options: Required<WebhookDeliveryOptions> = { duplicate: false, delayMs: 0, reorder: false };
  private readonly log: WebhookDeliveryAttempt[] = [];
  private pending = 0;
  private waiters: (() => void)[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly controllers = new Set<AbortController>();
  private closed = false;

  constructor(
    private readonly instanceId: string,
    endpoints: WebhookEndpoint[],
    private readonly retryDelaysMs: number[],
  ) {
    for (const endpoint of endpoints) this.addEndpoint(endpoint);
  }

  addEndpoint(endpoint: WebhookEndpoint): void {
    const signer = validateEndpoint(endpoint);
    this.endpoints.push({
      endpoint: { url: endpoint.url, secret: endpoint.secret },
      signer,
      queue: Promise.resolve(),
    });
  }

  clearEndpoints(): void {
    this.endpoints.length = 0;
  }

  listEndpoints(): WebhookEndpoint[] {
    return this.endpoints.map(({ endpoint }) => ({ ...endpoint }));
  }

  setOptions(options: WebhookDeliveryOptions): void {
    this.options = {
      duplicate: options.duplicate ?? false,
      delayMs: Math.max(0, options.delayMs ?? 0),
      reorder: options.reorder ?? false,
    };
  }

  getOptions(): Required<WebhookDeliveryOptions> {
    return { ...this.options };
  }

  deliveries(): WebhookDeliveryAttempt[] {
    return this.log.map((entry) => ({ ...entry }));
  }

  settled(): Promise<void> {
    if (this.pending === 0 || this.closed) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Queues one write burst; returns the message IDs in emit order. */
  emit(events: WebhookEvent[], request: HttpRequestInfo): string[] {
    if (this.closed || events.length === 0) return [];
    const messages: Message[] = events.map((event) => {
      const envelope = {
        data: event.data,
        object: 'event',
        type: event.type,
        timestamp: Date.now(),
        instance_id: this.instanceId,
        event_attributes: { http_request: { client_ip: request.clientIp, user_agent: request.userAgent } },
      };
      return { msgId: randomId('msg'), type: event.type, body: JSON.stringify(envelope) };
    });
    const ordered = this.options.reorder ? [...messages].reverse() : messages;
    const copies = this.options.duplicate ? 2 : 1;
    const delayMs = this.options.delayMs;
    for (const target of this.endpoints) {
      const hold = delayMs > 0 ? this.sleep(delayMs) : Promise.resolve();
      for (const message of ordered) {
        for (let copy = 0; copy < copies; copy++) {
          const job: Job = { endpoint: target.endpoint, signer: target.signer, message };
          this.pending++;
          target.queue = target.queue.then(() => hold).then(() => this.attempt(job, 1));
        }
      }
    }
    return messages.map((message) => message.msgId);
  }

  close(): void {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const controller of this.controllers) controller.abort();
    this.controllers.clear();
    this.pending = 0;
    this.flushWaiters();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        resolve();
      }, ms);
      this.timers.add(timer);
    });
  }

  private async attempt(job: Job, attempt: number): Promise<void> {
    if (this.closed) return;
    const at = Date.now();
    const status = await this.post(job);
    if (this.closed) return;
    this.log.push({
      msgId: job.message.msgId,
      eventType: job.message.type,
      url: job.endpoint.url,
      attempt,
      status,
      at,
    });
    if (this.log.length > MAX_LOG) this.log.splice(0, this.log.length - MAX_LOG);
    const ok = status >= 200 && status < 300;
    const delay = this.retryDelaysMs[attempt - 1];
    if (ok || delay === undefined) {
      this.finish();
      return;
    }
    const timer = setTimeout(
      () => {
        this.timers.delete(timer);
        void this.attempt(job, attempt + 1);
      },
      Math.max(0, delay),
    );
    this.timers.add(timer);
  }

  private async post(job: Job): Promise<number> {
    const controller = new AbortController();
    this.controllers.add(controller);
    const timeout = setTimeout(() => controller.abort(), ATTEMPT_TIMEOUT_MS);
    try {
      const timestamp = new Date();
      const signature = job.signer.sign(job.message.msgId, timestamp, job.message.body);
      const res = await fetch(job.endpoint.url, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          'User-Agent': 'Svix-Webhooks/1.99 (clerk-emulator)',
          'svix-id': job.message.msgId,
          'svix-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
          'svix-signature': signature,
        },
        body: job.message.body,
        signal: controller.signal,
      });
      await res.arrayBuffer().catch(() => undefined);
      return res.status;
    } catch {
      return 0;
    } finally {
      clearTimeout(timeout);
      this.controllers.delete(controller);
    }
  }

  private finish(): void {
    this.pending = Math.max(0, this.pending - 1);
    if (this.pending === 0) this.flushWaiters();
  }

  private flushWaiters(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve();
  }
}
