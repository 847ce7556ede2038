/**
 * The response contract: Clerk's Backend API OpenAPI file (spec/bapi_2026-05-12.yml) compiled with Ajv, so a test
 * can check that a raw emulator answer is what Clerk documents for that operation and status — successes and
 * errors alike. OpenAPI 3.0's `nullable` is an Ajv keyword; `example`, `x-*` and the document's other keys are
 * ignored (strict off), and formats are not checked (the spec's `format`s are informative).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';
import { expect } from 'vitest';
import { parse } from 'yaml';

const SPEC_PATH = fileURLToPath(new URL('../spec/bapi_2026-05-12.yml', import.meta.url));
const SPEC_ID = 'bapi';

interface ResponseObject {
  $ref?: string;
  content?: { 'application/json'?: { schema?: unknown } };
}
interface Operation {
  responses?: Record<string, ResponseObject>;
}
interface OpenApiDocument {
  paths: Record<string, Record<string, Operation>>;
  components: { responses: Record<string, ResponseObject> };
}

let loaded: { spec: OpenApiDocument; ajv: Ajv } | undefined;
const compiled = new Map<string, ValidateFunction>();

function load(): { spec: OpenApiDocument; ajv: Ajv } {
  if (!loaded) {
    const spec = parse(readFileSync(SPEC_PATH, 'utf8')) as OpenApiDocument;
    const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
    ajv.addSchema(spec as object, SPEC_ID);
    loaded = { spec, ajv };
  }
  return loaded;
}

const pointer = (...parts: string[]) =>
  parts.map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/');

/**
 * The validator of the JSON body that the spec documents for `method path` (`path` as the spec writes it, without
 * `/v1`, e.g. '/organizations/{organization_id}/invitations/bulk') answering `status`.
 */
export function responseValidator(method: string, path: string, status: number): ValidateFunction {
  const key = `${method.toUpperCase()} ${path} ${status}`;
  const cached = compiled.get(key);
  if (cached) return cached;
  const { spec, ajv } = load();
  const operation = spec.paths[path]?.[method.toLowerCase()];
  if (!operation) throw new Error(`the spec has no operation ${method} ${path}`);
  const response = operation.responses?.[String(status)];
  if (!response) {
    throw new Error(
      `the spec documents no ${status} for ${method} ${path} (it lists ${Object.keys(operation.responses ?? {}).join(', ')})`,
    );
  }
  let ref: string;
  if (response.$ref) {
    const name = response.$ref.replace('#/components/responses/', '');
    if (!spec.components.responses[name]?.content?.['application/json']?.schema) {
      throw new Error(`response ${name} has no JSON schema`);
    }
    ref = `${SPEC_ID}#/${pointer('components', 'responses', name, 'content', 'application/json', 'schema')}`;
  } else {
    ref = `${SPEC_ID}#/${pointer('paths', path, method.toLowerCase(), 'responses', String(status), 'content', 'application/json', 'schema')}`;
  }
  const validate = ajv.compile({ $ref: ref });
  compiled.set(key, validate);
  return validate;
}

/** Asserts that `body` is what the spec documents for `method path` answering `status`. */
export function expectSpecResponse(method: string, path: string, status: number, body: unknown): void {
  const validate = responseValidator(method, path, status);
  const ok = validate(body);
  expect(
    ok,
    `${method} ${path} ${status} does not match the OpenAPI schema: ${JSON.stringify(validate.errors?.slice(0, 5), null, 1)}`,
  ).toBe(true);
}

/**
 * Sends a raw request (the SDK hides the error body's shape) and checks status and body against the spec.
 * `path` is the spec's path template; `params` fill its placeholders; `query` is sent as the query string
 * (repeated keys for arrays). Returns the parsed body.
 */
export async function specCall(
  emulator: { url: string; secretKey: string },
  method: string,
  path: string,
  params: Record<string, string>,
  body: unknown,
  expectedStatus: number,
  query: Record<string, string | string[]> = {},
): Promise<Record<string, unknown> & { errors?: { code: string; message: string; long_message: string }[] }> {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    for (const item of Array.isArray(value) ? value : [value]) search.append(key, item);
  }
  const concrete =
    path.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(params[name] ?? '')) +
    (search.size > 0 ? `?${search}` : '');
  const res = await fetch(`${emulator.url}/v1${concrete}`, {
    method,
    headers: { Authorization: `Bearer ${emulator.secretKey}`, 'Content-Type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  const json = JSON.parse(text) as Record<string, unknown>;
  expect(res.status, `${method} ${concrete}: ${text.slice(0, 300)}`).toBe(expectedStatus);
  expect(res.headers.get('content-type')).toBe('application/json');
  expectSpecResponse(method, path, expectedStatus, json);
  return json;
}

// ---- webhooks (spec/webhooks_2025-04-15.yml, `x-webhooks`) ----

const WEBHOOKS_SPEC_PATH = fileURLToPath(new URL('../spec/webhooks_2025-04-15.yml', import.meta.url));
const WEBHOOKS_SPEC_ID = 'webhooks';

type SchemaNode = Record<string, unknown>;
const isNode = (value: unknown): value is SchemaNode =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * The webhooks YAML composes payloads as `allOf: [$ref to a schema with additionalProperties: false, {more
 * properties}]` (organizationInvitation.accepted = OrganizationInvitation + user_id + data), which JSON Schema
 * reads as "no payload matches", and writes `nullable` beside a bare `$ref`, which Ajv refuses. This reads them as
 * OpenAPI means them: the branches of such an `allOf` merge into one object schema (properties and required
 * lists united, the closed branch's additionalProperties kept), and `{nullable, $ref}` becomes `$ref` or null.
 */
function normalizeWebhookSpec(spec: { components: { schemas: Record<string, unknown> } }): void {
  const schemas = spec.components.schemas;
  const done = new Set<string>();
  const component = (ref: string): SchemaNode | undefined => {
    const name = ref.replace('#/components/schemas/', '');
    if (!done.has(name)) {
      done.add(name);
      schemas[name] = visit(schemas[name]);
    }
    return isNode(schemas[name]) ? (schemas[name] as SchemaNode) : undefined;
  };
  const visit = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(visit);
    if (!isNode(node)) return node;
    let out: SchemaNode = Object.fromEntries(Object.entries(node).map(([key, value]) => [key, visit(value)]));
    if (Array.isArray(out.allOf)) {
      const branches = (out.allOf as unknown[]).map((branch) =>
        isNode(branch) && typeof branch.$ref === 'string' ? component(branch.$ref) : branch,
      );
      if (branches.every((b) => isNode(b) && (b.type === undefined || b.type === 'object') && !b.allOf)) {
        const { allOf: _allOf, ...rest } = out;
        const merged: SchemaNode = { ...rest, type: 'object', properties: {}, required: [] };
        for (const branch of branches as SchemaNode[]) {
          Object.assign(merged.properties as SchemaNode, branch.properties ?? {});
          (merged.required as string[]).push(...((branch.required as string[] | undefined) ?? []));
          if (branch.additionalProperties === false) merged.additionalProperties = false;
        }
        merged.required = [...new Set(merged.required as string[])];
        out = merged;
      }
    }
    if (out.nullable !== undefined && out.type === undefined && typeof out.$ref === 'string') {
      const { nullable: _nullable, $ref, ...rest } = out;
      out = { ...rest, anyOf: [{ $ref }, { type: 'null' }] };
    }
    return out;
  };
  for (const name of Object.keys(schemas)) component(`#/components/schemas/${name}`);
  Object.assign(spec, visit(spec));
}

let webhooksAjv: { spec: { 'x-webhooks': Record<string, unknown> }; ajv: Ajv } | undefined;
const webhookValidators = new Map<string, ValidateFunction>();

/** The validator of a whole webhook event (envelope and `data`) of `type`, from the webhooks YAML. */
export function webhookValidator(type: string): ValidateFunction {
  const cached = webhookValidators.get(type);
  if (cached) return cached;
  if (!webhooksAjv) {
    const spec = parse(readFileSync(WEBHOOKS_SPEC_PATH, 'utf8'));
    normalizeWebhookSpec(spec);
    const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
    ajv.addSchema(spec as object, WEBHOOKS_SPEC_ID);
    webhooksAjv = { spec, ajv };
  }
  if (!webhooksAjv.spec['x-webhooks'][type]) throw new Error(`the webhooks spec has no event ${type}`);
  const validate = webhooksAjv.ajv.compile({
    $ref: `${WEBHOOKS_SPEC_ID}#/${pointer('x-webhooks', type, 'post', 'requestBody', 'content', 'application/json', 'schema')}`,
  });
  webhookValidators.set(type, validate);
  return validate;
}

/** Asserts that a parsed webhook event (envelope and `data`) is what the webhooks YAML documents for its type. */
export function expectSpecWebhook(event: { type: string }): void {
  const validate = webhookValidator(event.type);
  const ok = validate(event);
  expect(
    ok,
    `${event.type} does not match the webhooks schema: ${JSON.stringify(validate.errors?.slice(0, 5), null, 1)}`,
  ).toBe(true);
}
