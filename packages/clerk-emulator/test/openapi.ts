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
 * `path` is the spec's path template; `params` fill its placeholders. Returns the parsed body.
 */
export async function specCall(
  emulator: { url: string; secretKey: string },
  method: string,
  path: string,
  params: Record<string, string>,
  body: unknown,
  expectedStatus: number,
): Promise<Record<string, unknown> & { errors?: { code: string; message: string; long_message: string }[] }> {
  const concrete = path.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(params[name] ?? ''));
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
