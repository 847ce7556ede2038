/**
 * The schema: one module per GraphQL type (the object type, its fields and resolvers, and the root field that
 * returns it), imported here for their side effects on the builder. Order is the contract's field order.
 */
import { builder } from './builder.js';
import './types/organization.js';
import './types/viewer.js';
import './types/team-changed.js';
import './types/team-actions.js';

builder.queryType({});
builder.mutationType({});
builder.subscriptionType({});

export const schema = builder.toSchema({ sortSchema: false });
