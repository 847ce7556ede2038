/**
 * Variables that do not fit their declared types (`$limit: Int` given "abc", a missing `$id: ID!`) are the
 * caller's input errors: answered with `extensions.code: BAD_USER_INPUT` like every other bad argument. graphql-js
 * (and graphql-jit after it) report them without a code, so they are coerced here first, before execution, with
 * graphql's own `getVariableValues`: the same messages, now with a code.
 */
import { GraphQLError, getOperationAST, getVariableValues } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { alsoOnSubscribe } from './operation-scope.js';

/** Answers badly typed variables with `BAD_USER_INPUT`: queries, and subscriptions when they subscribe. No options. */
export function useVariableErrors(): Plugin {
  return alsoOnSubscribe({
    onExecute({ args, setResultAndStopExecution }) {
      const operation = getOperationAST(args.document, args.operationName);
      const definitions = operation?.variableDefinitions;
      if (!definitions || definitions.length === 0) return;
      const { errors } = getVariableValues(
        args.schema,
        definitions,
        (args.variableValues ?? {}) as Record<string, unknown>,
      );
      if (!errors) return;
      setResultAndStopExecution({
        errors: errors.map(
          (error) =>
            new GraphQLError(error.message, {
              nodes: error.nodes,
              extensions: { ...error.extensions, code: 'BAD_USER_INPUT' },
            }),
        ),
      });
    },
  });
}
