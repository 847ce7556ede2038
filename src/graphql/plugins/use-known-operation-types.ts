/**
 * Refuses operations of a type the schema does not have (`mutation { … }`: there is no Mutation type) as a validation
 * error. graphql-js 16 only finds out when executing, and graphql-jit throws a plain Error there: a 500 and two
 * error-level log lines for one anonymous request. (graphql-js 17 has this rule as KnownOperationTypesRule.) Its
 * status is every validation error's: 400, or 200 to a client that accepts only application/json (GraphQL over HTTP).
 * No options.
 */
import { GraphQLError, type ValidationRule } from 'graphql';
import type { Plugin } from 'graphql-yoga';

const knownOperationTypes: ValidationRule = (context) => ({
  OperationDefinition(node) {
    if (context.getSchema().getRootType(node.operation)) return;
    context.reportError(new GraphQLError(`This API has no ${node.operation} operations.`, { nodes: node }));
  },
});

export function useKnownOperationTypes(): Plugin {
  return {
    onValidate: ({ addValidationRule }) => addValidationRule(knownOperationTypes),
  };
}
