import { it } from 'vitest';
import { ADMIN_PASSWORD, loginAs, startTestServer } from './testing/test-server.ts';
import { connect, createAgentKey, agentQuery } from './testing/clients.ts';
it('dbg', async () => {
  const s = await startTestServer();
  const admin = await loginAs(s.url, 'admin', ADMIN_PASSWORD);
  const k = await createAgentKey(s, admin);
  const sock = await connect(s.url, 'agent', agentQuery({ api_key: k.key }));
  sock.onAny((e, p) => console.log('EVENT', e, JSON.stringify(p)));
  await new Promise((r) => setTimeout(r, 1500));
  console.log('LOG', s.logFile);
  await s.close();
});
