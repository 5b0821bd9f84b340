import { INPUT_KEY_CODE_MAX_LENGTH, INPUT_WHEEL_MAX_DELTA_PX, SCREEN_MAX_SIDE_PX } from '@guruconnect/shared/limits';
import { POINTER_BUTTONS, type InputMessage } from '@guruconnect/shared/protocol';

/** Browser → remote input mapping, pure so it can be reasoned about without a DOM. */

export type PointerButtonName = (typeof POINTER_BUTTONS)[number];

/**
 * Where a client point falls on the remote screen, clamped to it; `null` for an unknown screen
 * size. `box` is the canvas element's box; with `contain` the picture is scaled into it keeping
 * its aspect ratio and centred (CSS `object-fit: contain`), so the letterbox bands are discounted.
 */
export function toRemotePoint(
  clientX: number,
  clientY: number,
  box: { left: number; top: number; width: number; height: number },
  screenWidth: number,
  screenHeight: number,
  contain = false,
): { x: number; y: number } | null {
  if (screenWidth < 1 || screenHeight < 1 || box.width <= 0 || box.height <= 0) return null;
  let { left, top, width, height } = box;
  if (contain) {
    const scale = Math.min(width / screenWidth, height / screenHeight);
    left += (width - screenWidth * scale) / 2;
    top += (height - screenHeight * scale) / 2;
    width = screenWidth * scale;
    height = screenHeight * scale;
  }
  const clamp = (v: number, max: number) => Math.min(Math.max(v, 0), Math.min(max, SCREEN_MAX_SIDE_PX) - 1);
  return {
    x: clamp(Math.floor(((clientX - left) / width) * screenWidth), screenWidth),
    y: clamp(Math.floor(((clientY - top) / height) * screenHeight), screenHeight),
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

/**
 * What is held down on the remote side because of this page, so it can all be released when focus
 * leaves (a key released outside the page would otherwise stay pressed remotely).
 */
export class HeldInput {
  readonly #keys = new Set<string>();
  readonly #buttons = new Set<PointerButtonName>();

  key(code: string, down: boolean): void {
    if (down) this.#keys.add(code);
    else this.#keys.delete(code);
  }

  button(button: PointerButtonName, down: boolean): void {
    if (down) this.#buttons.add(button);
    else this.#buttons.delete(button);
  }

  /** The messages that release everything held, at (`x`, `y`); forgets them. */
  releaseAll(x: number, y: number, t: number): InputMessage[] {
    const out: InputMessage[] = [];
    for (const code of this.#keys) out.push({ type: 'key', code, down: false, t });
    for (const button of this.#buttons) out.push({ type: 'pointer:button', button, down: false, x, y, t });
    this.#keys.clear();
    this.#buttons.clear();
    return out;
  }
}
