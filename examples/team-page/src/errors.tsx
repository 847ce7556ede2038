/**
 * Errors as the server codes them (`extensions.code`, see the README's error table), shown by code: the code says
 * what happened (LAST_ADMIN, SEATS_EXHAUSTED, ALREADY_INVITED, FORBIDDEN, RATE_LIMITED…), the message how to go on.
 */
import type { CombinedError } from 'urql';

export interface PageError {
  code: string;
  message: string;
}

/** The first coded error of a failed operation; a network failure is NETWORK_ERROR. */
export function errorOf(error: CombinedError): PageError {
  const first = error.graphQLErrors[0];
  if (first)
    return { code: String(first.extensions?.code ?? 'INTERNAL_SERVER_ERROR'), message: first.message };
  return { code: 'NETWORK_ERROR', message: error.networkError?.message ?? error.message };
}

export function ErrorBanner({ error, onDismiss }: { error: PageError; onDismiss?: () => void }) {
  return (
    <div className="error" role="alert" data-testid="error" data-code={error.code}>
      <strong>{error.code}</strong> {error.message}
      {onDismiss && (
        <button type="button" className="link" onClick={onDismiss} aria-label="Dismiss">
          ×
        </button>
      )}
    </div>
  );
}
