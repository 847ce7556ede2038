/// <reference types="vite/client" />

interface ImportMetaEnv {
  /** A session token for this folder's own `vite` dev server (the page served by `npm start` carries its own). */
  readonly VITE_SESSION_TOKEN?: string;
  /** The API, when it is not this page's own server. @default '/graphql' */
  readonly VITE_GRAPHQL_URL?: string;
}
