/**
 * Which operations a plugin's hooks reach. Yoga runs queries through `onExecute` and subscriptions through
 * `onSubscribe` (graphql-js then executes each event of a subscription without `onExecute`): a plugin written for
 * one of the two must be told about the other.
 */
import type { Plugin } from 'graphql-yoga';

/**
 * Runs a plugin's `onExecute` check for subscriptions too, once at subscribe time: a check made there (variables,
 * answer size) would otherwise never see a subscription.
 */
export const alsoOnSubscribe = (plugin: Plugin): Plugin => ({
  ...plugin,
  // Both payloads carry what these checks use (`args`, `setResultAndStopExecution`); the checks return nothing.
  onSubscribe(payload) {
    void plugin.onExecute?.(payload as unknown as Parameters<NonNullable<Plugin['onExecute']>>[0]);
  },
});

/** The plugin without its subscription hook: subscriptions keep the executor they had. */
export const queriesOnly = <P extends { onSubscribe?: unknown }>({
  onSubscribe: _subscriptions,
  ...plugin
}: P) => plugin;
