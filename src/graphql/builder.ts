import SchemaBuilder from '@pothos/core';
import type { GraphQLContext } from './context.js';

export const builder = new SchemaBuilder<{
  Context: GraphQLContext;
  // Non-null unless a field says otherwise: the contract is mostly non-null, and nulls should be deliberate.
  DefaultFieldNullability: false;
  Scalars: {
    ID: { Input: string; Output: string };
    /** RFC 3339 timestamps; the domain already holds them formatted (strings), or as epoch milliseconds. */
    DateTime: { Input: Date; Output: Date | number | string };
  };
}>({
  defaultFieldNullability: false,
});

builder.scalarType('DateTime', {
  description: 'An RFC 3339 timestamp in UTC, e.g. 2026-01-31T12:00:00.000Z.',
  // Domain strings are already RFC 3339 (formatted once when read from Clerk); only other values are formatted.
  serialize: (value) => (typeof value === 'string' ? value : new Date(value).toISOString()),
  parseValue: (value) => {
    const date = typeof value === 'string' ? new Date(value) : new Date(Number.NaN);
    if (Number.isNaN(date.getTime())) throw new TypeError('DateTime must be an RFC 3339 string');
    return date;
  },
});
