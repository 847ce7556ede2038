/**
 * Logs the errors a client only sees masked ("Unexpected error."), with the request ID so a report can be traced.
 * Errors with a code are answers, not incidents, and are not logged.
 */
import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Logger } from '../../observability/logger.js';

export interface UnexpectedErrorLogOptions {
  /** Where the lines go (level `error`). Required: there is no default logger. */
  logger: Logger;
}

/** The part of the context this plugin reads: the ID the HTTP layer gave the request. */
interface RequestIdentified {
  requestId: string;
}

export function useUnexpectedErrorLog({ logger }: UnexpectedErrorLogOptions): Plugin<RequestIdentified> {
  return {
    onExecute: () => ({
      onExecuteDone: ({ result, args }) => {
        if (!('errors' in result) || !result.errors) return;
        for (const error of result.errors) {
          const original = error.originalError;
          if (original instanceof GraphQLError || error.extensions?.code) continue;
          logger.error('unexpected error in resolver', {
            requestId: args.contextValue.requestId,
            path: error.path?.join('.'),
            error: original ?? error,
          });
        }
      },
    }),
  };
}
