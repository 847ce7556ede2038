/**
 * The session token sent as `Authorization: Bearer …`. A real app asks its auth provider for a fresh one before
 * each request (with Clerk: `await getToken()`, from `useAuth()`); here it is the demo session that the
 * development server (`npm start`, src/dev.ts) writes into the page, or, under this folder's own `vite` dev server,
 * `VITE_SESSION_TOKEN` (copy the demo token `npm start` prints).
 */
export function sessionToken(): string {
  const fromPage = document.querySelector<HTMLMetaElement>('meta[name="demo-session-token"]')?.content;
  return fromPage || import.meta.env.VITE_SESSION_TOKEN || '';
}

/** Where the API is: this page's own server, or `VITE_GRAPHQL_URL` (e.g. http://localhost:4000/graphql). */
export const GRAPHQL_URL: string = import.meta.env.VITE_GRAPHQL_URL || '/graphql';
