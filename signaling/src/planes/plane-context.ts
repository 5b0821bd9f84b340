import type { Config } from '../config/config.ts';
import type { Logger } from '../logging/logger.ts';
import type { Broadcaster } from '../sessions/broadcaster.ts';
import type { LiveViewer, Registry } from '../sessions/registry.ts';
import type { SessionService } from '../sessions/session-service.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { IceServer } from '@guruconnect/shared/protocol';
import type { RelayHub } from '../relay/relay-hub.ts';
import type { MediaRelay } from '../media/media-relay.ts';

/** What plane handlers need. */
export interface PlaneContext {
  config: Config;
  logger: Logger;
  registry: Registry;
  sessions: SessionService;
  broadcaster: Broadcaster;
  audit: AuditLog;
  iceServersFor(subject: string): IceServer[];
  relay: RelayHub;
  /** The media plane: tickets, and acks/windows for viewers whose media socket is in the relay process. */
  media: MediaRelay;
  /** Forward one relay message to a viewer on this node or, through the cluster, on its node. */
  relayTo(viewer: LiveViewer, data: Uint8Array, kind: 'chunk' | 'other'): boolean;
  /** The agent caps the viewer's relay credit window (`relay:window`), on whichever node it is. */
  relayWindow(viewer: LiveViewer, frames: number): void;
}
