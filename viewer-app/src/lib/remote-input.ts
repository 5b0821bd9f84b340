import { INPUT_KEY_CODE_MAX_LENGTH, INPUT_WHEEL_MAX_DELTA_PX, SCREEN_MAX_SIDE_PX } from '@guruconnect/shared/limits';
import { POINTER_BUTTONS } from '@guruconnect/shared/protocol';

/** Browser → remote input mapping, pure so it can be reasoned about without a DOM. */

export type PointerButtonName = (typeof POINTER_BUTTONS)[number];

/** Where a client point falls on the remote screen, clamped to it; `null` for an unknown screen size. */
export function toRemotePoint(clientX: number, clientY: number, box: { left: number; top: number; width: number; height: number }, screenWidth: number, screenHeight: number): { x: number; y: number } | null {
  if (screenWidth < 1 || screenHeight < 1 || box.width <= 0 || box.height <= 0) return null;
  const clamp = (v: number, max: number) => Math.min(Math.max(v, 0), Math.min(max, SCREEN_MAX_SIDE_PX) - 1);
  return {
    x: clamp(Math.floor(((clientX - box.left) / box.width) * screenWidth), screenWidth),
    y: clamp(Math.floor(((clientY - box.top) / box.height) * screenHeight), screenHeight),
  };
}

/** `MouseEvent.button` → protocol button name. */
export function pointerButton(button: number): PointerButtonName | null {
  const names: Record<number, PointerButtonName> = { 0: 'left', 1: 'middle', 2: 'right', 3: 'back', 4: 'forward' };
  return names[button] ?? null;
}

const LINE_PX = 40;
const PAGE_PX = 800;

/** Wheel deltas in whole pixels (lines and pages normalised), clamped to the protocol's range. */
export function wheelDelta(deltaX: number, deltaY: number, deltaMode: number): { dx: number; dy: number } {
  const unit = deltaMode === 1 ? LINE_PX : deltaMode === 2 ? PAGE_PX : 1;
  const clamp = (v: number) => Math.max(-INPUT_WHEEL_MAX_DELTA_PX, Math.min(INPUT_WHEEL_MAX_DELTA_PX, Math.round(v * unit)));
  return { dx: clamp(deltaX), dy: clamp(deltaY) };
}

/** A `KeyboardEvent.code` the protocol accepts (physical key names like `KeyA`), else `null`. */
export function keyCode(code: string): string | null {
  return code.length > 0 && code.length <= INPUT_KEY_CODE_MAX_LENGTH && /^[A-Za-z0-9]+$/.test(code) ? code : null;
}
