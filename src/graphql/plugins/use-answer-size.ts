/**
 * Answer size counts: one request may ask for at most `maxMembers` member objects, the sum of `limit` over every
 * `members` field it selects (aliases and fragments included, variables resolved). graphql-armor's cost model
 * counts fields, not list sizes, so ten aliases of `members(limit: 500)` (1.8 MB of answer for a 1.5 KB query)
 * passed it; this refuses them with `QUERY_TOO_COMPLEX`.
 *
 * Fields are collected the way execution collects them: the same response key is one field, a fragment spread
 * counts once per selection set. `@skip`/`@include` are not evaluated, so a skipped field still counts (the safe
 * side). Our schema has no lists of organizations and no abstract types; a change there must revisit this count.
 * Runs before execution, after validation and the variable check, so invalid queries get their own errors first.
 */
import {
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  GraphQLError,
  type GraphQLField,
  type GraphQLObjectType,
  type GraphQLSchema,
  getArgumentValues,
  getNamedType,
  getOperationAST,
  getVariableValues,
  isObjectType,
  Kind,
  type SelectionSetNode,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { alsoOnSubscribe } from './operation-scope.js';

export interface AnswerSizeOptions {
  /** Member objects one request may ask for (the sum of every `members(limit)`). @default 1000 */
  maxMembers?: number;
  /** The largest `limit` one `members` field accepts; a larger one is refused by the field itself. @default 500 */
  maxLimit?: number;
}

/** `Type.field` of the fields whose `limit` sizes the answer: the team query's and the live subscription's. */
const SIZED_FIELD = { types: ['Organization', 'TeamChange'], field: 'members', argument: 'limit' };

type Variables = Record<string, unknown> | undefined;

/** How many member objects an operation asks for, or `dynamic` when that depends on its variables. */
type Count = number | 'dynamic';

/** Refuses a request asking for more than `maxMembers` members: queries, and subscriptions when they subscribe. */
export function useAnswerSize(options: AnswerSizeOptions = {}): Plugin {
  const maxMembers = options.maxMembers ?? 1000;
  const maxLimit = options.maxLimit ?? 500;
  // Yoga's parse cache hands out one DocumentNode per query text: most requests count from here.
  const counted = new WeakMap<DocumentNode, Map<string, Count>>();

  return alsoOnSubscribe({
    onExecute({ args, setResultAndStopExecution }) {
      const operationName = args.operationName ?? '';
      let byOperation = counted.get(args.document);
      let count = byOperation?.get(operationName);
      if (count === undefined) {
        count = countMembers(args.schema, args.document, args.operationName, undefined, maxLimit);
        byOperation ??= new Map();
        byOperation.set(operationName, count);
        counted.set(args.document, byOperation);
      }
      const members =
        count === 'dynamic'
          ? countMembers(args.schema, args.document, args.operationName, args.variableValues ?? {}, maxLimit)
          : count;
      if (members === 'dynamic' || members <= maxMembers) return;
      setResultAndStopExecution({
        errors: [
          new GraphQLError(
            `The query asks for up to ${members} members; at most ${maxMembers} per request (the sum of every members(limit)).`,
            { extensions: { code: 'QUERY_TOO_COMPLEX' } },
          ),
        ],
      });
    },
  });
}

/**
 * Counts the member objects an operation asks for. Without variables (`undefined`), a count that needs them is
 * `dynamic`; with them it is always a number. Variables that do not coerce count as nothing here: execution refuses
 * them anyway.
 */
function countMembers(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  variables: Variables,
  maxLimit: number,
): Count {
  const operation = getOperationAST(document, operationName);
  const root = operation && schema.getRootType(operation.operation);
  if (!operation || !root) return 0;
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  let coerced: Record<string, unknown> | undefined;
  let dynamic = false;
  const limitOf = (field: GraphQLField<unknown, unknown>, node: FieldNode): number => {
    const argument = node.arguments?.find((each) => each.name.value === SIZED_FIELD.argument);
    if (argument?.value.kind === Kind.VARIABLE && variables === undefined) {
      dynamic = true;
      return 0;
    }
    if (argument && coerced === undefined) {
      const result = getVariableValues(schema, operation.variableDefinitions ?? [], variables ?? {});
      coerced = result.coerced ?? {};
    }
    try {
      // An explicit null means the default to the field, as it does here.
      const limit =
        getArgumentValues(field, node, coerced)[SIZED_FIELD.argument] ??
        field.args.find((each) => each.name === SIZED_FIELD.argument)?.defaultValue;
      // An out-of-range limit is the field's own BAD_USER_INPUT; here it counts as the most it could be.
      return typeof limit === 'number' ? Math.min(Math.max(limit, 0), maxLimit) : 0;
    } catch {
      return 0;
    }
  };

  const walk = (type: GraphQLObjectType, selectionSets: readonly SelectionSetNode[]): number => {
    const byResponseKey = new Map<string, FieldNode[]>();
    const visitedFragments = new Set<string>();
    const collect = (set: SelectionSetNode) => {
      for (const selection of set.selections) {
        if (selection.kind === Kind.FIELD) {
          const responseKey = selection.alias?.value ?? selection.name.value;
          const nodes = byResponseKey.get(responseKey);
          if (nodes) nodes.push(selection);
          else byResponseKey.set(responseKey, [selection]);
        } else if (selection.kind === Kind.INLINE_FRAGMENT) {
          collect(selection.selectionSet);
        } else if (!visitedFragments.has(selection.name.value)) {
          visitedFragments.add(selection.name.value);
          const fragment = fragments.get(selection.name.value);
          if (fragment) collect(fragment.selectionSet);
        }
      }
    };
    for (const set of selectionSets) collect(set);

    let members = 0;
    for (const nodes of byResponseKey.values()) {
      const [node] = nodes as [FieldNode];
      const field = type.getFields()[node.name.value];
      if (!field) continue; // __typename and introspection fields
      if (SIZED_FIELD.types.includes(type.name) && field.name === SIZED_FIELD.field) {
        members += limitOf(field, node);
      }
      const fieldType = getNamedType(field.type);
      const subSelections = nodes.flatMap((each) => (each.selectionSet ? [each.selectionSet] : []));
      if (isObjectType(fieldType) && subSelections.length > 0) members += walk(fieldType, subSelections);
    }
    return members;
  };

  const members = walk(root, [operation.selectionSet]);
  return dynamic ? 'dynamic' : members;
}
