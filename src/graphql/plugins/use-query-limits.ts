/**
 * Abuse limits for a public GraphQL endpoint, from graphql-armor: depth, aliases, directives, tokens and cost.
 * Our schema is shallow (organization → members → member → field is depth 4), so the limits sit well above
 * any real query and far below anything that could hurt.
 *
 * graphql-armor's own errors carry no `extensions.code`; every rejection is re-issued here with
 * `QUERY_TOO_COMPLEX` so clients can tell a refused query from a broken one.
 */
import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import type { GraphQLArmorRejectCallback } from '@escape.tech/graphql-armor-types';
import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';

export interface QueryLimitsOptions {
  /**
   * Deepest selection, introspection counted too: its types nest through ofType without end. GraphiQL's own
   * introspection query (graphql's getIntrospectionQuery) is 21 deep; our own types only 4.
   * @default 25
   */
  maxDepth?: number;
  /** Aliases in one operation. @default 10 */
  maxAliases?: number;
  /** Directives in one operation. @default 20 */
  maxDirectives?: number;
  /**
   * Tokens in the query text; the team-page query is about 60 and GraphiQL's introspection query about 300.
   * @default 2000
   */
  maxTokens?: number;
  /** graphql-armor's cost (fields and nesting, not list sizes: those are use-answer-size.ts's). @default 5000 */
  maxCost?: number;
  /**
   * Leave "Did you mean …?" out of validation errors: it would describe the schema to someone who may not introspect
   * it. Turn off only where introspection is on.
   * @default true
   */
  hideSuggestions?: boolean;
}

const reject: GraphQLArmorRejectCallback = (context, error) => {
  const coded = new GraphQLError(error.message.replace(/^Syntax Error: /, ''), {
    extensions: { code: 'QUERY_TOO_COMPLEX' },
  });
  // Validation rules report through their context; the token limit runs inside the parser and must throw.
  if (context) context.reportError(coded);
  else throw coded;
};

export function useQueryLimits(options: QueryLimitsOptions = {}): Plugin {
  const withCode = { onReject: [reject], propagateOnRejection: false };
  return EnvelopArmorPlugin({
    maxDepth: { n: options.maxDepth ?? 25, ignoreIntrospection: false, ...withCode },
    maxAliases: { n: options.maxAliases ?? 10, ...withCode },
    maxDirectives: { n: options.maxDirectives ?? 20, ...withCode },
    maxTokens: { n: options.maxTokens ?? 2000, ...withCode },
    costLimit: { maxCost: options.maxCost ?? 5000, ...withCode },
    blockFieldSuggestion: { enabled: options.hideSuggestions ?? true },
  }) as Plugin;
}
