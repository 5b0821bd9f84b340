import type { InputMessage } from '@guruconnect/shared/protocol';

/** Where a technician's input goes. Backends: `x11` (XTest via xdotool) and `synthetic` (records). */
export interface InputSink {
  readonly kind: 'synthetic' | 'x11';
  /** Apply one validated input message. Must not throw for valid input; resolves when injected. */
  apply(msg: InputMessage): Promise<void>;
  close(): Promise<void>;
}
