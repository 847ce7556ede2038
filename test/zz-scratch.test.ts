import { it } from 'vitest';
import { startHarness } from './helpers/harness.js';
it('timing', async () => {
  const h = await startHarness({ emulator: { seed: 'empty' } as never });
  const org = h.emulator.store.createOrganization({ name: 'Big' });
  h.emulator.store.populate(org.id, 29_999);
  const [admin] = h.emulator.store.populate(org.id, 1, 'org:admin');
  const token = h.emulator.mintToken({ userId: admin!.userId, orgId: org.id });
  const q = `query($id: ID!){ organization(id:$id){ members(limit:1){ fromCache totalCount members { userId role } } } }`;
  let t = performance.now();
  await h.query(q, { token, variables: { id: org.id } });
  console.log('cold', performance.now() - t);
  for (let i = 0; i < 5; i++) { t = performance.now(); await h.query(q, { token, variables: { id: org.id } }); console.log('warm', performance.now() - t); }
  const target = h.emulator.store.listMemberships(org.id)[5]!;
  for (let i = 0; i < 5; i++) {
    await h.clerk.organizations.updateOrganizationMembership({ organizationId: org.id, userId: target.userId, role: i % 2 ? 'org:member' : 'org:admin' });
    t = performance.now();
    await h.emulator.control.webhooksSettled();
    const s = performance.now();
    const r = await h.query(q, { token, variables: { id: org.id } });
    console.log('settled', s - t, 'query', performance.now() - s, JSON.stringify(r.data).slice(0, 80));
  }
  await h.close();
}, 120_000);
