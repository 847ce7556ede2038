/**
 * What GraphiQL opens with: our settings turned into Yoga's GraphiQL options, and the team page's query as the
 * example. How the page is sent (compressed, revalidated) is graphiql-page.ts's.
 */
import type { GraphiQLOptions } from 'graphql-yoga';

export interface GraphiQLSettings {
  /** Shown when the page opens; a useful example beats an empty editor. */
  defaultQuery: string;
  /** Prefilled request headers, e.g. a demo member's token in the zero-config start. @default {} */
  defaultHeaders?: Record<string, string>;
  /**
   * The tabs GraphiQL opens with (instead of one with `defaultQuery`), each with its own headers; used only when
   * the browser has no tabs stored from an earlier visit.
   * @default one tab with `defaultQuery`
   */
  defaultTabs?: { query: string; headers?: Record<string, string>; variables?: string }[];
}

export const DEFAULT_QUERY = (
  organizationId: string,
) => `# The Settings → Team page's query. Edit the ID, or ask who you are with { viewer { userId } }.
query TeamPage {
  organization(id: "${organizationId}") {
    members(limit: 20, offset: 0, includePending: true) {
      fromCache
      cachedAt
      totalCount
      members { userId firstName lastName email imageUrl role createdAt }
      pendingInvitations { id email role createdAt }
    }
  }
}
`;

/** Yoga's `graphiql` option for these settings; `false` turns GraphiQL off. */
export function graphiqlOptions(settings: GraphiQLSettings | false): GraphiQLOptions | false {
  if (!settings) return false;
  return {
    title: 'Team API · GraphiQL',
    defaultQuery: settings.defaultQuery,
    headers: JSON.stringify(settings.defaultHeaders ?? {}, null, 2),
    ...(settings.defaultTabs
      ? {
          defaultTabs: settings.defaultTabs.map((tab) => ({
            query: tab.query,
            headers: tab.headers ? JSON.stringify(tab.headers, null, 2) : null,
            variables: tab.variables ?? null,
          })),
        }
      : {}),
    // Subscriptions over Yoga's own SSE (distinct connections), like any other client.
    subscriptionsProtocol: 'SSE',
  };
}
