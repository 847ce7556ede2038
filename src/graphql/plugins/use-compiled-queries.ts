/**
 * Compiles each query once into plain JS (and a matching JSON serializer) with graphql-jit: a cached team page is
 * mostly execution and serialization, and the compiled form does both in about half the time. The compiled
 * operations live in a bounded LRU, keyed like Yoga's own parse cache.
 *
 * Queries only: graphql-jit (0.8) hands a subscription's `subscribe` resolver the operation's variables instead of
 * the field's arguments, so subscriptions stay on graphql-js (see use-shared-events.ts).
 */
import { useGraphQlJit } from '@envelop/graphql-jit';
import type { Plugin } from 'graphql-yoga';
import { LRUCache } from 'lru-cache';
import { queriesOnly } from './operation-scope.js';

export interface CompiledQueriesOptions {
  /** Compiled operations kept (least recently used dropped first). @default 1000 */
  maxOperations?: number;
}

export function useCompiledQueries(options: CompiledQueriesOptions = {}): Plugin {
  return queriesOnly(
    useGraphQlJit({}, { cache: new LRUCache({ max: options.maxOperations ?? 1000 }) }),
  ) as Plugin;
}
