// The relay process: a child of the signaling server that serves the media plane. It holds only
// the media sockets and their queues, so the garbage collector marks a small heap however much the
// relay moves (`bench/README.md`: relaying in the signaling process itself costs its whole heap's
// marking every ~64 MB relayed). Sockets arrive over IPC from the parent, which authenticated them.
import type { Socket } from 'node:net';
import { MediaRelayCore } from './relay-core.ts';
import type { FromRelay, RelayProcessOptions, ToRelay } from './relay-ipc.ts';

const options = JSON.parse(process.argv[2] ?? '{}') as RelayProcessOptions;
const send = (m: FromRelay) => {
  if (process.connected) process.send?.(m);
};
const core = new MediaRelayCore(options, send);
process.on('message', (msg: ToRelay, socket?: Socket) => {
  try {
    core.onMessage(msg, socket);
  } catch (err) {
    process.stderr.write(`media relay: ${String((err as Error)?.message ?? err)}\n`);
    socket?.destroy();
  }
});
// The parent went away: nothing may outlive it.
process.on('disconnect', () => {
  core.close();
  setTimeout(() => process.exit(0), 200).unref();
});
send({ type: 'ready', execArgv: process.execArgv });
