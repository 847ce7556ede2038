/** Request parameter handling: query values, pagination, ordering and body validation, with Clerk's 422s. */
import { type ClerkErrorItem, clerkErrors, paramItems } from './errors.js';

export type Query = Record<string, string | string[]>;

export function parseQuery(search: URLSearchParams): Query {
  const query: Query = {};
  for (const [key, value] of search) {
    const existing = query[key];
    if (existing === undefined) query[key] = value;
    else if (Array.isArray(existing)) existing.push(value);
    else query[key] = [existing, value];
  }
  return query;
}

/** The last value of a query key, or undefined when absent or empty. */
export function single(query: Query, name: string): string | undefined {
  const raw = query[name];
  const value = Array.isArray(raw) ? raw[raw.length - 1] : raw;
  return value === undefined || value === '' ? undefined : value;
}

/** Every non-empty value of a (repeatable) query key; also splits comma-separated values. */
export function multi(query: Query, name: string): string[] {
  const raw = query[name];
  if (raw === undefined) return [];
  const values = Array.isArray(raw) ? raw : [raw];
  return values
    .flatMap((value) => value.split(','))
    .map((value) => value.trim())
    .filter(Boolean);
}

function integerParam(query: Query, name: string, fallback: number, min: number, max: number): number {
  const raw = single(query, name);
  if (raw === undefined) return fallback;
  // Clerk answers form_param_value_invalid for non-numeric paging values too.
  if (!/^[+-]?\d+$/.test(raw.trim())) throw clerkErrors.paramValue(name, `${name} must be an integer.`);
  const value = Number(raw.trim());
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    const range =
      max === Number.MAX_SAFE_INTEGER ? `greater than or equal to ${min}` : `between ${min} and ${max}`;
    throw clerkErrors.paramValue(name, `${name} must be ${range}.`);
  }
  return value;
}

export interface Pagination {
  limit: number;
  offset: number;
}

/** `limit` default 10 within 1..500, `offset` default 0 and non-negative. */
export function parsePagination(query: Query): Pagination {
  return {
    limit: integerParam(query, 'limit', 10, 1, 500),
    offset: integerParam(query, 'offset', 0, 0, Number.MAX_SAFE_INTEGER),
  };
}

export interface Ordering {
  field: string;
  descending: boolean;
}

/** `order_by` like `-created_at` / `+created_at` / `created_at` (`+` implied). */
export function parseOrderBy(query: Query, allowed: readonly string[], fallback: Ordering): Ordering {
  const raw = single(query, 'order_by');
  if (raw === undefined) return fallback;
  // A raw '+' in a query string decodes to a space.
  const descending = raw.startsWith('-');
  const field = raw.replace(/^[\s+-]+/, '').trim();
  if (!allowed.includes(field)) {
    throw clerkErrors.paramValue(
      'order_by',
      `order_by must be one of ${allowed.map((f) => `[+-]${f}`).join(', ')}.`,
    );
  }
  return { field, descending };
}

/** Slices a list sorted ascending as if it were ordered as requested, without copying the whole list. */
export function sliceOrdered<T>(
  ascending: readonly T[],
  descending: boolean,
  { limit, offset }: Pagination,
): T[] {
  const total = ascending.length;
  if (offset >= total) return [];
  if (!descending) return ascending.slice(offset, offset + limit);
  const out: T[] = [];
  for (let i = total - 1 - offset; i >= 0 && out.length < limit; i--) out.push(ascending[i] as T);
  return out;
}

// ---- bodies ----

export type FieldType = 'string' | 'integer' | 'boolean' | 'object' | 'array';

export interface FieldSpec {
  type: FieldType;
  required?: boolean;
  nullable?: boolean;
}

export type BodySpec = Record<string, FieldSpec>;

export type Body = Record<string, unknown>;

function typeMatches(value: unknown, type: FieldType): boolean {
  switch (type) {
    case 'string':
      return typeof value === 'string';
    case 'integer':
      return typeof value === 'number' && Number.isInteger(value);
    case 'boolean':
      return typeof value === 'boolean';
    case 'object':
      return typeof value === 'object' && value !== null && !Array.isArray(value);
    case 'array':
      return Array.isArray(value);
  }
}

const TYPE_NAMES: Record<FieldType, string> = {
  string: 'a string',
  integer: 'an integer',
  boolean: 'a boolean',
  object: 'an object',
  array: 'an array',
};

/** Form bodies carry strings only; coerce them to the declared types where unambiguous. */
function coerce(value: unknown, type: FieldType): unknown {
  if (typeof value !== 'string') return value;
  if (type === 'integer' && /^-?\d+$/.test(value)) return Number(value);
  if (type === 'boolean' && (value === 'true' || value === 'false')) return value === 'true';
  if (type === 'object' || type === 'array') {
    try {
      return JSON.parse(value) as unknown;
    } catch {
      return value;
    }
  }
  return value;
}

/**
 * Checks a body against a spec: unknown fields → `form_param_unknown`, missing required fields →
 * `form_param_missing`, wrong types → `form_param_format_invalid`. `null` counts as absent for nullable fields.
 * Returns the body with null/absent optional fields removed.
 */
export function validateBody(body: Body, spec: BodySpec, fromForm = false): Body {
  const problems: ClerkErrorItem[] = [];
  const out: Body = {};
  for (const [name, raw] of Object.entries(body)) {
    const field = Object.hasOwn(spec, name) ? spec[name] : undefined;
    if (!field) {
      problems.push(paramItems.unknown(name));
      continue;
    }
    const value = fromForm ? coerce(raw, field.type) : raw;
    if (value === null || value === undefined) {
      if (!field.nullable && field.required) problems.push(paramItems.missing(name));
      else if (!field.nullable && value === null)
        problems.push(paramItems.format(name, TYPE_NAMES[field.type]));
      continue;
    }
    if (!typeMatches(value, field.type)) {
      problems.push(paramItems.format(name, TYPE_NAMES[field.type]));
      continue;
    }
    out[name] = value;
  }
  for (const [name, field] of Object.entries(spec)) {
    if (field.required && !(name in body)) problems.push(paramItems.missing(name));
  }
  if (problems.length > 0) throw clerkErrors.params(problems);
  return out;
}

export function str(body: Body, name: string): string | undefined {
  const value = body[name];
  return typeof value === 'string' ? value : undefined;
}
