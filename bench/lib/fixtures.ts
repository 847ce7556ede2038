/**
 * The data the scenarios read, made in the emulator when a scenario first needs it. Every query is made as one user,
 * an admin of every bench organization; the cache-hit organization is shared by scenarios 1–3.
 */
import type { EmulatorClient } from './emulator.js';

export interface TeamTarget {
  organizationId: string;
  /** A session token of the bench user with the organization active. */
  token: string;
}

export class Fixtures {
  private benchUserId: Promise<string> | undefined;
  private hitTarget: Promise<TeamTarget> | undefined;

  constructor(private readonly emu: EmulatorClient) {}

  /** The user every query is made as. */
  benchUser(): Promise<string> {
    this.benchUserId ??= this.emu.createUser('bench.user@bench.test', 'Bench', 'User');
    return this.benchUserId;
  }

  /** An organization of `members` generated members, the bench user (admin) and `extra` [userId, role] members. */
  async organization(name: string, members: number, extra: [string, string][] = []): Promise<string> {
    const benchUserId = await this.benchUser();
    const id = await this.emu.createOrganization(name, members);
    for (const [userId, role] of [[benchUserId, 'org:admin'] as [string, string], ...extra]) {
      await this.emu.addMembership(id, userId, role);
    }
    return id;
  }

  /** A session token of the bench user; without an organization, none is active. */
  async token(organizationId?: string): Promise<string> {
    return this.emu.mintToken(await this.benchUser(), organizationId);
  }

  /** An organization of its own with a token for it. */
  async team(name: string, members: number, extra: [string, string][] = []): Promise<TeamTarget> {
    const organizationId = await this.organization(name, members, extra);
    return { organizationId, token: await this.token(organizationId) };
  }

  /**
   * The cache-hit organization (scenarios 1–3 and --profile): 51 members and 5 pending invitations. The
   * invitations go through the Clerk API, so the server gets their webhooks; they have settled when this resolves,
   * so that none lands after the organization is cached.
   */
  hit(): Promise<TeamTarget> {
    this.hitTarget ??= (async () => {
      const target = await this.team('Bench Hit', 50);
      const benchUserId = await this.benchUser();
      await Promise.all(
        Array.from({ length: 5 }, (_, i) =>
          this.emu.createInvitation(target.organizationId, `invitee${i}@bench.test`, benchUserId),
        ),
      );
      await this.emu.webhooksSettled();
      return target;
    })();
    return this.hitTarget;
  }
}
