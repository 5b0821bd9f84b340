/**
 * Named limits shared by every process. Units are in the names.
 * Changing one is a protocol change: servers, agents and viewers must agree.
 */

/** Version of the wire protocol (socket.io payloads, data-channel messages, frame codec). */
export const PROTOCOL_VERSION = 1;

/** Largest socket.io message accepted on the agent plane (`/ws/agent`). */
export const AGENT_MAX_MESSAGE_BYTES = 4 * 1024 * 1024;
/** Largest socket.io message accepted on the viewer plane (`/ws/viewer`). */
export const VIEWER_MAX_MESSAGE_BYTES = 64 * 1024;
/** Largest socket.io message accepted on the console plane (`/ws/console`). */
export const CONSOLE_MAX_MESSAGE_BYTES = 64 * 1024;

/** Largest single data-channel chunk of an encoded frame (and what agents produce first). */
export const FRAME_CHUNK_MAX_BYTES = 64 * 1024;
/**
 * Largest chunk on the relay (`relay:frame`, agent → server → viewer). Larger than a data-channel
 * chunk because every socket.io message has a fixed cost (a text header frame plus a binary frame,
 * parsed and re-encoded at the server): at 64 KiB, a bare socket.io relay moved about 0.55 of what
 * a plain WebSocket relay did; at 256 KiB about 0.9 (`bench/README.md`). Not larger, because the
 * server forwards a message only once it has all of it: a bigger chunk waits longer at each hop
 * on a slow link. A frame up to this size crosses the relay as one message.
 */
export const RELAY_CHUNK_MAX_BYTES = 256 * 1024;
/** Largest whole encoded frame (all chunks together). Larger updates are split across frames. */
export const FRAME_MAX_BYTES = 4 * 1024 * 1024;
/** Largest input message a viewer may send (P2P or relay). */
export const INPUT_MAX_MESSAGE_BYTES = 64 * 1024;
/** Largest screen side in pixels the codec accepts. */
export const SCREEN_MAX_SIDE_PX = 16_384;

/** Lifetime of a viewer token. */
export const VIEWER_TOKEN_TTL_S = 300;
/** Default lifetime of a login token (configurable on the server). */
export const LOGIN_TOKEN_TTL_S = 8 * 60 * 60;
/** Lifetime of a single-use console-plane ticket. */
export const CONSOLE_TICKET_TTL_S = 30;
/** Any JWT longer than this is refused before any crypto runs. */
export const TOKEN_MAX_BYTES = 8 * 1024;

/** Minimum password length for user accounts. */
export const PASSWORD_MIN_LENGTH = 12;
/** Maximum password length (bounds Argon2 input). */
export const PASSWORD_MAX_LENGTH = 1024;
export const USERNAME_MAX_LENGTH = 64;

/** Support codes: six decimal digits. */
export const SUPPORT_CODE_LENGTH = 6;
export const SUPPORT_CODE_TTL_DEFAULT_MIN = 10;
export const SUPPORT_CODE_TTL_MAX_MIN = 60;
export const SUPPORT_CODE_LABEL_MAX_LENGTH = 120;

/** Agent-reported metadata caps (untrusted input). */
export const AGENT_NAME_MAX_LENGTH = 128;
export const AGENT_HOSTNAME_MAX_LENGTH = 253;
export const AGENT_OS_MAX_LENGTH = 128;
export const AGENT_ID_MAX_LENGTH = 64;
export const MACHINE_UID_MAX_LENGTH = 128;
export const AGENT_KEY_NAME_MAX_LENGTH = 128;

/** SDP offers/answers above this are refused. */
export const SDP_MAX_BYTES = 16 * 1024;
/** Chat text above this is refused. */
export const CHAT_TEXT_MAX_BYTES = 4 * 1024;

/**
 * Input throttle per viewer (relay at the server, P2P at the agent). 1000/s sustained covers a
 * 1000 Hz gaming mouse or a 500 Hz pointer plus keys and wheel; bursts of 2000.
 */
export const RELAY_INPUT_RATE_PER_S = 1000;
export const RELAY_INPUT_BURST = 2000;
/**
 * Relay credit: a viewer that acknowledges relayed frames (`relay:ack`) has at most this many
 * frames sent to it and not yet acknowledged, and at most this many more queued at the server
 * (older ones are dropped and a keyframe is asked for). A slow viewer then sees recent frames
 * instead of a backlog held in socket buffers the server cannot see.
 */
export const RELAY_ACK_WINDOW_FRAMES = 3;

/** Bulk machine removal accepts 1..this many ids. */
export const BULK_REMOVE_MAX_IDS = 500;
/** Audit page size cap. */
export const AUDIT_PAGE_MAX = 500;

/** Largest number of rectangles in one encoded frame (bounds decode work per message). */
export const FRAME_MAX_RECTS = 4096;
/** Largest cursor shape side in pixels. */
export const CURSOR_MAX_SIDE_PX = 256;
/** Largest encoded cursor message; it always travels unchunked, so it fits in one frame chunk. */
export const CURSOR_MAX_MESSAGE_BYTES = FRAME_CHUNK_MAX_BYTES;
/** Largest wheel delta per input message, in pixels, either direction. */
export const INPUT_WHEEL_MAX_DELTA_PX = 10_000;
/** Longest `KeyboardEvent.code` accepted in a key message, in characters. */
export const INPUT_KEY_CODE_MAX_LENGTH = 32;
/** Longest text in a text input message, in UTF-16 code units. */
export const INPUT_TEXT_MAX_LENGTH = 1024;

/** Path of the media plane: a plain WebSocket carrying relayed frames (agent → server → viewer). */
export const MEDIA_PLANE_PATH = '/ws/media';
/** Lifetime of a single-use media-plane ticket (`relay:media-ticket`). */
export const MEDIA_TICKET_TTL_S = 30;
/** Viewers one agent media message may address (as `relay:frame`'s `to`). */
export const MEDIA_MAX_TARGETS = 64;
/**
 * Largest message an agent may send on the media plane: a relay chunk plus its address header
 * (up to MEDIA_MAX_TARGETS ids of ≤ 64 bytes). Viewers send nothing on it.
 */
export const MEDIA_AGENT_MAX_MESSAGE_BYTES = RELAY_CHUNK_MAX_BYTES + 2 + MEDIA_MAX_TARGETS * 65;
