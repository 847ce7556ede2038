/**
 * How a /graphql request becomes GraphQL parameters, in place of Yoga's parsers: the same media types, with three
 * differences that matter to a public endpoint. Media types match case-insensitively, as HTTP defines them
 * (`Application/JSON; Charset=UTF-8` is JSON). Text that does not parse (a body, or `variables` / `extensions` in a
 * query string) is a 400 BAD_REQUEST with our own message: Yoga answers a GET's bad JSON with a 500 and two
 * error-level log lines, and a POST's with the parser's message, in production too. Media types this API does not
 * take (multipart: there are no uploads) are a 415 with a body that says so, where Yoga sends an empty one.
 *
 * Yoga registers its own parsers before any plugin's, so this plugin sets the parser for every request it sees.
 * No options.
 */
import type { GraphQLParams, Plugin } from 'graphql-yoga';
import { badRequest } from '../errors.js';

/** What a client sent, unchecked: Yoga's parameter checks (object `variables`, string `query`, …) come next. */
type Params = GraphQLParams;

/** The media type of a Content-Type header, lower case, without parameters; '' when there is none. */
export function mediaTypeOf(contentType: string | null): string {
  // A list is not valid HTTP, but some clients send one: the first counts, as in Yoga.
  return (contentType ?? '').split(',', 1)[0]?.split(';', 1)[0]?.trim().toLowerCase() ?? '';
}

// biome-ignore lint/suspicious/noExplicitAny: parsed JSON, checked by Yoga's parameter checks next
function parseJsonParameter(name: string, text: string | null): any {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw badRequest(`The "${name}" parameter is not valid JSON.`);
  }
}

/** GET, or a form-encoded POST: parameters in `key=value` form, `variables` and `extensions` as JSON text. */
function paramsOf(search: URLSearchParams): Params {
  return {
    query: search.get('query') || undefined,
    operationName: search.get('operationName') || undefined,
    variables: parseJsonParameter('variables', search.get('variables')),
    extensions: parseJsonParameter('extensions', search.get('extensions')),
  };
}

async function parseJsonBody(request: Request): Promise<Params> {
  const text = await request.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw badRequest('The request body is not valid JSON.');
  }
  // Arrays (batches) and non-objects are left to Yoga's own parameter checks, which answer them with a 400.
  if (body === null || typeof body !== 'object') {
    throw badRequest('The request body must be a JSON object: { "query": …, "variables": … }.');
  }
  return body as Params;
}

type RequestParser = (request: Request) => Promise<Params> | Params;

/** A Map, not an object: a media type named `constructor` must not find Object's. */
const parsers = new Map<string, RequestParser>([
  ['application/json', parseJsonBody],
  ['application/graphql+json', parseJsonBody],
  ['application/graphql', async (request) => ({ query: await request.text() })],
  [
    'application/x-www-form-urlencoded',
    async (request) => paramsOf(new URLSearchParams(await request.text())),
  ],
]);

const unsupported = (mediaType: string): RequestParser => {
  const error = badRequest(
    `${mediaType ? `Content-Type ${mediaType.slice(0, 100)} is not supported` : 'A POST needs a Content-Type'}: send application/json.`,
    415,
  );
  return () => {
    throw error;
  };
};

export function useRequestParser(): Plugin {
  return {
    onRequestParse({ request, url, setRequestParser }) {
      // Other methods are answered by Yoga's method check (405) before any parser runs.
      if (request.method === 'GET') setRequestParser(() => paramsOf(url.searchParams));
      else if (request.method === 'POST') {
        const mediaType = mediaTypeOf(request.headers.get('content-type'));
        setRequestParser(parsers.get(mediaType) ?? unsupported(mediaType));
      }
    },
  };
}
