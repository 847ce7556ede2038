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

export interface QueryLimits {
  maxDepth: number;
  maxAliases: number;
  maxDirectives: number;
  maxTokens: number;
  maxCost: number;
}

export const DEFAULT_QUERY_LIMITS: QueryLimits = {
  // Counts introspection too: its types nest through ofType without end. GraphiQL's own introspection query
  // (graphql's getIntrospectionQuery) is 21 deep; our own types only 4.
  maxDepth: 25,
  maxAliases: 10,
  maxDirectives: 20,
  // The team-page query is about 60 tokens and GraphiQL's introspection query about 300.
  maxTokens: 2000,
  maxCost: 5000,
};

const reject: GraphQLArmorRejectCallback = (context, error) => {
  const coded = new GraphQLError(error.message.replace(/^Syntax Error: /, ''), {
    extensions: { code: 'QUERY_TOO_COMPLEX' },
  });
  // Validation rules report through their context; the token limit runs inside the parser and must throw.
  if (context) context.reportError(coded);
  else throw coded;
};

export function queryLimitsPlugin(limits: QueryLimits, options: { hideSuggestions: boolean }): Plugin {
  const withCode = { onReject: [reject], propagateOnRejection: false };
  return EnvelopArmorPlugin({
    maxDepth: { n: limits.maxDepth, ignoreIntrospection: false, ...withCode },
    maxAliases: { n: limits.maxAliases, ...withCode },
    maxDirectives: { n: limits.maxDirectives, ...withCode },
    maxTokens: { n: limits.maxTokens, ...withCode },
    costLimit: { maxCost: limits.maxCost, ...withCode },
    // "Did you mean …?" would describe the schema to someone who may not introspect it.
    blockFieldSuggestion: { enabled: options.hideSuggestions },
  }) as Plugin;
}
