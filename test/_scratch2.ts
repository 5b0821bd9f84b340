import { execSync } from 'node:child_process';
const require_ss = () => execSync('ss -tn state established').toString().split('\n').filter((l) => /^\s*[0-9]{4,}|^\S+\s+[0-9]+\s+[0-9]{4,}/.test(l) || /^\d{4,}/.test(l.trim())).join('\n');
import { startScenario } from './support/scenario.ts';
import { waitUntil } from './support/wait.ts';
const sc = await startScenario({ server: { env: { RELAY_HIGH_WATER_BYTES: '65536', RELAY_QUEUE_MAX_BYTES: '262144' } }, agentArgs: ['--relay', 'force', '--fps', '12', '--size', process.argv[2] ?? '1280x720', '--quality', '90'] });
try {
  const fast = await sc.join({ decode: false });
  await waitUntil(() => fast.stats.frames >= 10, 20000, 'warm');
  console.log('bytes/frame', Math.round(fast.stats.bytes / fast.stats.frames));
  const slow = await sc.join({ maxFramesPerS: 1, decode: false });
  for (let i = 0; i < 12; i++) {
    await new Promise((r) => setTimeout(r, 1000));
    const drops = sc.agent.logs.filter((l) => l.msg === 'keyframe requested' && l.reason === 'relay_drop').length;
    console.log(i, 'fast', fast.stats.frames, 'slow', slow.stats.frames, 'slowLastSeq', slow.stats.lastSeq, 'fastLastSeq', fast.stats.lastSeq, 'drops', drops, 'rss', Math.round(sc.server.rssKiB()/1024));
  }
} finally { await sc.stop(); }
