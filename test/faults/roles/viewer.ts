// A technician's viewer in a process of its own, so a test can kill it (SIGKILL: the kernel
// closes its TCP connection, as when a laptop's network dies). Reports `joined` with its id.
import { report, roleArgs } from '../../bench/lib/roles.ts';
import { ViewerClient } from '../../support/viewer-client.ts';

const a = roleArgs<{ url: string; sessionId: string; username: string; password: string }>();
// Never outlive the test process.
process.on('disconnect', () => process.exit(0));

ViewerClient.join({ baseUrl: a.url, sessionId: a.sessionId, username: a.username, password: a.password, forceRelay: true, decode: false }).then(
  (v) => {
    v.onFrame(() => undefined);
    report({ type: 'joined', viewerId: v.viewerId });
  },
  (err: unknown) => {
    report({ type: 'failed', message: err instanceof Error ? err.message : String(err) });
    process.exit(1);
  },
);
