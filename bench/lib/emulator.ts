/**
 * The benchmark's view of the Clerk emulator process: its HTTP control API (`/__emulator/…`, no latency) and a few
 * Clerk Backend API writes (`/v1/…`, with the secret key and the configured latency), which emit real webhooks.
 */

export interface EmulatorInfo {
  url: string;
  public_key_pem: string;
}

export interface Delivery {
  msg_id: string;
  event_type: string;
  url: string;
  attempt: number;
  status: number | null;
  at: number;
}

export const MEMBERSHIPS_ROUTE = 'GET /v1/organizations/{id}/memberships';
export const INVITATIONS_ROUTE = 'GET /v1/organizations/{id}/invitations';

export class EmulatorClient {
  constructor(
    readonly url: string,
    readonly secretKey: string,
  ) {}

  private async call<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
    const response = await fetch(`${this.url}${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...headers },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await response.text();
    if (!response.ok)
      throw new Error(`emulator ${method} ${path}: HTTP ${response.status} ${text.slice(0, 300)}`);
    return (text === '' ? undefined : JSON.parse(text)) as T;
  }

  info() {
    return this.call<EmulatorInfo>('GET', '/__emulator');
  }

  /** An organization of `members` members, the first `admins` of them admins (Clerk keeps one at least). */
  async createOrganization(name: string, members: number, admins = 0): Promise<string> {
    const created = await this.call<{ id: string }>('POST', '/__emulator/organizations', {
      name,
      members,
      admins,
    });
    return created.id;
  }

  async createUser(email: string, firstName: string, lastName: string): Promise<string> {
    const user = await this.call<{ id: string }>('POST', '/__emulator/users', {
      email_address: email,
      first_name: firstName,
      last_name: lastName,
    });
    return user.id;
  }

  async addMembership(organizationId: string, userId: string, role: string): Promise<void> {
    await this.call('POST', `/__emulator/organizations/${organizationId}/memberships`, {
      user_id: userId,
      role,
    });
  }

  async mintToken(userId: string, organizationId?: string): Promise<string> {
    const { token } = await this.call<{ token: string }>('POST', '/__emulator/tokens', {
      user_id: userId,
      ...(organizationId ? { org_id: organizationId } : {}),
      expires_in_s: 3600,
    });
    return token;
  }

  counters() {
    return this.call<Record<string, number>>('GET', '/__emulator/counters');
  }

  async resetCounters(): Promise<void> {
    await this.call('POST', '/__emulator/counters/reset', {});
  }

  deliveries() {
    return this.call<Delivery[]>('GET', '/__emulator/webhooks/deliveries');
  }

  async webhooksSettled(): Promise<void> {
    await this.call('POST', '/__emulator/webhooks/settled', {});
  }

  // ---- Clerk Backend API (latency applies; writes emit webhooks) ----

  private clerk<T>(method: string, path: string, body?: unknown) {
    return this.call<T>(method, `/v1${path}`, body, { authorization: `Bearer ${this.secretKey}` });
  }

  async listMemberships(organizationId: string): Promise<void> {
    await this.clerk('GET', `/organizations/${organizationId}/memberships?limit=500&offset=0`);
  }

  async createInvitation(organizationId: string, email: string, inviterUserId: string): Promise<void> {
    await this.clerk('POST', `/organizations/${organizationId}/invitations`, {
      email_address: email,
      role: 'org:member',
      inviter_user_id: inviterUserId,
    });
  }

  async updateMembershipRole(organizationId: string, userId: string, role: string): Promise<void> {
    await this.clerk('PATCH', `/organizations/${organizationId}/memberships/${userId}`, { role });
  }
}

/** Runs `work` over `items`, `concurrency` at a time. */
export async function inPool<T, R>(
  items: readonly T[],
  concurrency: number,
  work: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, lane));
  return results;
}
