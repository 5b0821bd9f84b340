import { startServerProcess } from './support/server-process.ts';
import { startAgentProcess } from './support/agent-process.ts';
import { ViewerClient } from './support/viewer-client.ts';
import { createAgentKey, login, getSession } from './support/api.ts';
import { ADMIN_PASSWORD } from './support/server-process.ts';
const relay = process.argv[2] === 'relay';
const t0 = Date.now();
const s = await startServerProcess();
console.log('server ready', Date.now() - t0);
const admin = await login(s.url);
const { key } = await createAgentKey(s.url, admin);
const agent = startAgentProcess({ server: s.url, key, args: relay ? ['--relay', 'force'] : [] });
try {
  const sessionId = await agent.sessionId();
  console.log('session', sessionId, Date.now() - t0);
  const v = await ViewerClient.join({ baseUrl: s.url, sessionId, username: 'admin', password: ADMIN_PASSWORD });
  const tj = Date.now();
  const f = await v.nextFrame(undefined, 20000);
  console.log('first frame', Date.now() - tj, f.path, f.keyframe, f.stamp, f.seq);
  await new Promise((r) => setTimeout(r, 5000));
  console.log(v.stats);
  console.log(await getSession(s.url, admin, sessionId));
  await v.close();
} catch (e) { console.error(e); }
finally {
  console.log(agent.logs.filter(l => l.level !== 'debug').map((l) => JSON.stringify(l)).join('\n'));
  await agent.stop();
  await s.stop();
}
