// Regression (found by the session model on PostgreSQL): two handshakes of one keyed machine that
// arrive together both passed the "is a previous connection live?" check while the other was still
// in the database, and both stayed connected to one session. Now exactly one survives.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseKinds } from '../db/test-database.ts';
import { ADMIN_PASSWORD, api, loginAs, startTestServer, type TestServer } from '../testing/test-server.ts';
import { agentQuery, connect, createAgentKey, received } from '../testing/clients.ts';
import type { Socket } from 'socket.io-client';

const ROUNDS = 5;

describe.each(databaseKinds())('simultaneous handshakes of one keyed machine (%s)', (kind) => {
  let s: TestServer;
  let admin: string;
  beforeAll(async () => {
    s = await startTestServer({ kind });
    admin = await loginAs(s.url, 'admin', ADMIN_PASSWORD);
  });
  afterAll(async () => s?.close());

  it('leave exactly one connected agent and one online session, the other superseded', { timeout: 90_000 }, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const { key } = await createAgentKey(s, admin, `race-${round}`);
      const sockets: Socket[] = [];
      // Both handshakes in flight at once, as a reconnect racing its own retry would be.
      await Promise.all(
        [0, 1].map(async () => {
          const socket = await connect(s.url, 'agent', agentQuery({ api_key: key }));
          sockets.push(socket);
        }),
      );
      const welcomes = () => sockets.flatMap((x) => received(x, 'session:welcome') as Array<{ sessionId: string; machineId: string }>);
      // Settled: one welcomed and the other gone (superseded before or after its own welcome).
      const deadline = Date.now() + 8000;
      while (Date.now() < deadline && (welcomes().length < 1 || sockets.filter((x) => x.connected).length > 1)) await new Promise((r) => setTimeout(r, 25));
      await new Promise((r) => setTimeout(r, 300));
      const connected = sockets.filter((x) => x.connected);
      expect(connected, `round ${round}: connected sockets`).toHaveLength(1);
      const machineId = welcomes()[0]!.machineId;
      const list = await api(s.url, 'GET', '/api/sessions', { token: admin });
      const online = (list.body.sessions as Array<{ machineId: string; status: string }>).filter((x) => x.machineId === machineId && x.status === 'online');
      expect(online, `round ${round}: online sessions of the machine`).toHaveLength(1);
      for (const x of sockets) x.disconnect();
    }
  });
});
