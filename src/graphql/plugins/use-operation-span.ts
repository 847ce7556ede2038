/**
 * One span per GraphQL operation, `query TeamPage` (its type and name, per OpenTelemetry's GraphQL conventions),
 * current while it executes, so the cache's events and Clerk's client spans of its resolvers hang under it.
 *
 * Written on the OpenTelemetry API rather than taken from a library, for what the hit path pays and what a span
 * carries:
 * - `@envelop/opentelemetry` adds a span per resolver by default (a hook on every field, sampled or not) and
 *   records the document and the variables as attributes (variables carry emails, e.g. inviteMembers); it also
 *   brings OpenTelemetry's 1.x SDK alongside ours.
 * - `@graphql-hive/plugin-opentelemetry` traces HTTP, parse, validate, context and execute, but brings the Hive
 *   gateway runtime, the Node SDK with auto-instrumentations and gRPC, about a hundred packages, on OpenTelemetry 2.x.
 * Here: one span, started in Yoga's `execute` instrumentation (envelop's wrapper, which runs the execution inside
 * it) and named in `onExecute`, where the document is at hand. Errors: their codes (`graphql.error.codes`); an
 * error without one (masked as "Unexpected error.") sets the span's status to ERROR. Subscriptions get the same
 * span around their setup (authorization, first reads), not over the stream's life.
 */
import { context, type Span, SpanStatusCode, trace } from '@opentelemetry/api';
import { getOperationAST } from 'graphql';
import type { Plugin } from 'graphql-yoga';

const tracer = trace.getTracer('team-graphql/graphql');
/** The spans this plugin started: `onExecute` names only these (never the HTTP span, if this one was not recorded). */
const operationSpans = new WeakSet<Span>();

/** Runs a phase (execute, subscribe) inside a new span, ended when the phase is over. */
function inSpan(wrapped: () => unknown): unknown {
  const span = tracer.startSpan('graphql.operation');
  if (!span.isRecording()) return wrapped();
  operationSpans.add(span);
  const end = (error?: unknown) => {
    if (error !== undefined) span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
  };
  return context.with(trace.setSpan(context.active(), span), () => {
    try {
      const result = wrapped();
      if (result instanceof Promise)
        return result.then(
          () => end(),
          (error: unknown) => {
            end(error);
            throw error;
          },
        );
      end();
      return result;
    } catch (error) {
      end(error);
      throw error;
    }
  });
}

/** Names the current span after the operation. */
function nameSpan(span: Span | undefined, document: unknown, operationName: string | null | undefined) {
  if (!span || !operationSpans.has(span)) return;
  const operation = getOperationAST(document as Parameters<typeof getOperationAST>[0], operationName);
  const type = operation?.operation ?? 'unknown';
  const name = operation?.name?.value;
  span.updateName(name ? `${type} ${name}` : type);
  span.setAttribute('graphql.operation.type', type);
  if (name) span.setAttribute('graphql.operation.name', name);
}

function recordErrors(span: Span | undefined, result: unknown) {
  if (!span || !operationSpans.has(span)) return;
  const errors = (result as { errors?: readonly { extensions?: { code?: unknown } }[] }).errors;
  if (!errors?.length) return;
  const codes = errors.map((error) => String(error.extensions?.code ?? 'INTERNAL_SERVER_ERROR'));
  span.setAttribute('graphql.error.codes', [...new Set(codes)]);
  if (codes.includes('INTERNAL_SERVER_ERROR')) span.setStatus({ code: SpanStatusCode.ERROR });
}

export function useOperationSpan(): Plugin {
  return {
    instrumentation: {
      execute: (_payload, wrapped) => inSpan(wrapped) as ReturnType<typeof wrapped>,
      subscribe: (_payload, wrapped) => inSpan(wrapped) as ReturnType<typeof wrapped>,
    },
    onExecute({ args }) {
      const span = trace.getActiveSpan();
      nameSpan(span, args.document, args.operationName);
      return { onExecuteDone: ({ result }) => recordErrors(span, result) };
    },
    onSubscribe({ args }) {
      const span = trace.getActiveSpan();
      nameSpan(span, args.document, args.operationName);
      return { onSubscribeResult: ({ result }) => recordErrors(span, result) };
    },
  };
}
