/**
 * `Subscription.teamChanged`: an organization's team page, pushed over Server-Sent Events whenever it changes.
 *
 * - Authorized at subscribe time exactly like `Query.organization` (`authorizeOrganization`), and again before
 *   every event, from that event's snapshot (so an event is never shown to someone the query would refuse).
 * - The first event is the current state (`INITIAL`); then one event per settled burst of webhooks, after the
 *   refresh-ahead re-read, so `members(…)` is served from the cache: N subscribers cost one Clerk read per change.
 * - A stream the server ends for access reasons (a revocation, the session ended in Clerk, access refused when
 *   re-checked) sends a last event with a `FORBIDDEN` error, then completes. One that reaches its lifetime (or its
 *   token's expiry), or is closed on shutdown, just completes: the client reconnects with a fresh token.
 *
 * The streams themselves (limits, versions, ends) are `src/subscriptions/live-streams.ts`.
 */
import { GraphQLError } from 'graphql';
import { authorizeOrganization, requireViewer } from '../../auth/access.js';
import type { Viewer } from '../../auth/viewer.js';
import { type LiveStream, TooManyStreamsError } from '../../subscriptions/live-streams.js';
import type { TeamChangeReason } from '../../subscriptions/types.js';
import { builder } from '../builder.js';
import type { GraphQLContext } from '../context.js';
import { forbidden, toGraphQLError } from '../errors.js';
import type { TeamLoaders } from '../loaders.js';
import type { Shareable } from '../plugins/use-shared-events.js';
import { memberQueryOf, pageArgs, pageFromRoster, pageOf, TeamMembersRef } from './team-members.js';

export interface TeamChangeShape {
  organizationId: string;
  reasons: TeamChangeReason[];
  version: number;
  /** This event's snapshot: every field of one event (and its authorization) sees the same data. */
  team: TeamLoaders;
}

/**
 * What the subscription's source yields: an event, or the error that ends the stream. A change after INITIAL
 * carries a `shareKey` (see use-shared-events.ts): its answer depends on the event alone, and it is yielded only once
 * this subscriber has been authorized for it, so subscribers asking the same question share one execution.
 */
type Item = ({ kind: 'change'; change: TeamChangeShape } & Shareable) | { kind: 'end'; error: unknown };

export const TeamChangeReasonRef = builder.enumType('TeamChangeReason', {
  description: 'Why a team page changed. One event can carry several (a burst of changes becomes one event).',
  values: {
    INITIAL: { description: 'The first event of every stream, after each (re)connect: the current state.' },
    MEMBER_ADDED: { description: 'A membership was created (an invitation accepted, or a member added).' },
    MEMBER_REMOVED: { description: 'A membership was deleted (or its user).' },
    MEMBER_UPDATED: { description: "A member's role changed, or their profile (name, email, image)." },
    INVITATION_CREATED: { description: 'An invitation was sent.' },
    INVITATION_ACCEPTED: { description: 'An invitation was accepted (a MEMBER_ADDED comes with it).' },
    INVITATION_REVOKED: { description: 'An invitation was revoked.' },
    ORGANIZATION_UPDATED: { description: "The organization's own details changed." },
  } as const,
});

/** Same bounds as `Organization.members`. */

export const TeamChangeRef = builder.objectRef<TeamChangeShape>('TeamChange').implement({
  description:
    "One event of a live team page: why it changed, and the team as it is now (read after the change, from the cache; select the same fields as the page's query).",
  fields: (t) => ({
    organizationId: t.exposeID('organizationId'),
    reasons: t.field({
      type: [TeamChangeReasonRef],
      description:
        'Why this event was sent: INITIAL for the first one, else what the changes since the last one were.',
      resolve: ({ reasons }) => reasons,
    }),
    version: t.int({
      description:
        'Grows with every event of this organization on the server process that holds the stream; an INITIAL ' +
        'event carries the version of the state it shows. Only comparable within one stream: after a reconnect ' +
        '(maybe to another replica), take the INITIAL event as the state whatever its version.',
      resolve: ({ version }) => version,
    }),
    members: t.field({
      type: TeamMembersRef,
      description: "The organization's active members, newest first, and optionally its pending invitations.",
      args: {
        ...pageArgs,
      },
      resolve: async ({ organizationId, team }, args) => {
        const page = pageOf(args);
        const query = memberQueryOf(args);
        try {
          const [roster, invitations] = await Promise.all([
            team.roster(organizationId),
            args.includePending ? team.pendingInvitations(organizationId) : null,
          ]);
          return { organizationId, page: await pageFromRoster(roster, query, page), invitations };
        } catch (error) {
          throw toGraphQLError(error);
        }
      },
    }),
  }),
});

function tooManyStreams(error: TooManyStreamsError): GraphQLError {
  return new GraphQLError(error.message, {
    extensions: { code: 'TOO_MANY_STREAMS', limit: error.limit, max: error.max },
  });
}

/**
 * The source of one subscription: the initial event, then one per change the stream delivers, each re-authorized
 * from its own snapshot. A plain iterator rather than an async generator: `return()` (the client went away) must
 * end the stream at once, and a generator's `return()` would wait for the change it is awaiting.
 */
function eventsOf(
  stream: LiveStream,
  context: GraphQLContext,
  organizationId: string,
): AsyncIterableIterator<Item> {
  // Authorized at subscribe time: there is a viewer.
  const viewer = requireViewer(context.viewer);
  let initial = true;
  let done = false;
  const change = (
    reasons: TeamChangeReason[],
    version: number,
    team: TeamLoaders,
    shared: boolean,
  ): Item => ({
    kind: 'change',
    change: { organizationId, reasons, version, team },
    // Versions are unique in the process; merged changes (a slow consumer) differ in their reasons.
    ...(shared ? { shareKey: `${organizationId} ${version} ${reasons.join()}` } : {}),
  });
  const finish = async (): Promise<IteratorResult<Item>> => {
    done = true;
    await stream.return();
    return { done: true, value: undefined };
  };
  return {
    async next() {
      if (done) return { done: true, value: undefined };
      if (initial) {
        initial = false;
        // The snapshot the subscribe-time authorization read: the initial event shows what was authorized.
        return { done: false, value: change(['INITIAL'], stream.version, context.team, false) };
      }
      const item = await stream.next();
      if (done || item.done) return finish();
      if (item.value.kind === 'end') {
        const { cause } = item.value;
        if (cause === 'forbidden' || cause === 'session_ended') {
          done = true;
          return { done: false, value: { kind: 'end', error: forbidden() } };
        }
        return finish(); // expired or shutdown: complete, and the client reconnects
      }
      const team = context.live.snapshot(viewer.userId);
      try {
        await authorizeOrganization({ viewer, revocations: context.revocations, team }, organizationId);
      } catch (error) {
        stream.end('forbidden');
        done = true;
        return { done: false, value: { kind: 'end', error: toGraphQLError(error) } };
      }
      if (done) return { done: true, value: undefined };
      return { done: false, value: change(item.value.reasons, item.value.version, team, true) };
    },
    return: finish,
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

builder.subscriptionField('teamChanged', (t) =>
  t.field({
    type: TeamChangeRef,
    description:
      "An organization's team page, live: the current state first (INITIAL), then an event after every change. " +
      'Members only, like Query.organization. Ends with a FORBIDDEN error when access ends; completes after ' +
      'its maximum lifetime or when the token expires (reconnect with a fresh token).',
    args: { organizationId: t.arg.id({ required: true }) },
    subscribe: async (_root, { organizationId }, context) => {
      // Any revocation recorded from here on ends the stream, even one that lands while we authorize.
      const since = Date.now();
      let viewer: Viewer;
      try {
        viewer = requireViewer(context.viewer);
        await authorizeOrganization(context, organizationId);
      } catch (error) {
        throw toGraphQLError(error);
      }
      let stream: LiveStream;
      try {
        stream = context.live.streams.open({
          userId: viewer.userId,
          sessionId: viewer.sessionId,
          organizationId,
          expiresAt: context.tokenExpiresAt(),
        });
      } catch (error) {
        if (error instanceof TooManyStreamsError) throw tooManyStreams(error);
        throw error;
      }
      if (context.revocations.revokedAt(viewer.userId, organizationId) >= since) {
        stream.end('forbidden');
        throw forbidden();
      }
      return eventsOf(stream, context, organizationId);
    },
    resolve: (item: Item) => {
      if (item.kind === 'end') throw item.error;
      return item.change;
    },
  }),
);
