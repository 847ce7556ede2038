/** Settings → Team for the signed-in user's active organization. */
import { useQuery } from 'urql';
import { ErrorBanner, errorOf } from './errors';
import { Viewer } from './operations';
import { TeamPage } from './TeamPage';

export function App() {
  const [{ data, error, fetching }] = useQuery({ query: Viewer });
  const viewer = data?.viewer;
  return (
    <main>
      <nav className="breadcrumb">Settings › Team</nav>
      {error && <ErrorBanner error={errorOf(error)} />}
      {fetching && !viewer && <p className="muted">Loading…</p>}
      {viewer && !viewer.activeOrganizationId && <p>Select an organization to manage its team.</p>}
      {viewer?.activeOrganizationId && (
        <TeamPage organizationId={viewer.activeOrganizationId} viewerId={viewer.userId} />
      )}
    </main>
  );
}
