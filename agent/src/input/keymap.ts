import type { KEY_COMBOS, POINTER_BUTTONS } from '@guruconnect/shared/protocol';

/**
 * Browser `KeyboardEvent.code` (a physical key, US layout) → X keysym name as `xdotool` takes it.
 * This table is also the allow-list: a code not in it is never sent anywhere. Every value matches
 * `KEYSYM_PATTERN`, so a keysym can be written into xdotool's line protocol as one word.
 */
const CODE_TO_KEYSYM: ReadonlyMap<string, string> = new Map<string, string>([
  ...Array.from('ABCDEFGHIJKLMNOPQRSTUVWXYZ', (l): [string, string] => [`Key${l}`, l.toLowerCase()]),
  ...Array.from('0123456789', (d): [string, string] => [`Digit${d}`, d]),
  ...Array.from({ length: 12 }, (_, i): [string, string] => [`F${i + 1}`, `F${i + 1}`]),
  ['Enter', 'Return'],
  ['Escape', 'Escape'],
  ['Backspace', 'BackSpace'],
  ['Tab', 'Tab'],
  ['Space', 'space'],
  ['ArrowUp', 'Up'],
  ['ArrowDown', 'Down'],
  ['ArrowLeft', 'Left'],
  ['ArrowRight', 'Right'],
  ['Home', 'Home'],
  ['End', 'End'],
  ['PageUp', 'Prior'],
  ['PageDown', 'Next'],
  ['Insert', 'Insert'],
  ['Delete', 'Delete'],
  ['ShiftLeft', 'Shift_L'],
  ['ShiftRight', 'Shift_R'],
  ['ControlLeft', 'Control_L'],
  ['ControlRight', 'Control_R'],
  ['AltLeft', 'Alt_L'],
  ['AltRight', 'Alt_R'],
  ['MetaLeft', 'Super_L'],
  ['MetaRight', 'Super_R'],
  ['ContextMenu', 'Menu'],
  ['CapsLock', 'Caps_Lock'],
  ['NumLock', 'Num_Lock'],
  ['ScrollLock', 'Scroll_Lock'],
  ['PrintScreen', 'Print'],
  ['Pause', 'Pause'],
  ['Minus', 'minus'],
  ['Equal', 'equal'],
  ['BracketLeft', 'bracketleft'],
  ['BracketRight', 'bracketright'],
  ['Backslash', 'backslash'],
  ['IntlBackslash', 'less'],
  ['Semicolon', 'semicolon'],
  ['Quote', 'apostrophe'],
  ['Backquote', 'grave'],
  ['Comma', 'comma'],
  ['Period', 'period'],
  ['Slash', 'slash'],
  ...Array.from('0123456789', (d): [string, string] => [`Numpad${d}`, `KP_${d}`]),
  ['NumpadAdd', 'KP_Add'],
  ['NumpadSubtract', 'KP_Subtract'],
  ['NumpadMultiply', 'KP_Multiply'],
  ['NumpadDivide', 'KP_Divide'],
  ['NumpadDecimal', 'KP_Decimal'],
  ['NumpadEnter', 'KP_Enter'],
  ['NumpadEqual', 'KP_Equal'],
]);

/** What a keysym may look like; checked again right before anything is written to xdotool. */
export const KEYSYM_PATTERN = /^[A-Za-z0-9_]{1,32}$/;

/** The X keysym for a `KeyboardEvent.code`, or `undefined` for a code outside the allow-list. */
export function keysymForCode(code: string): string | undefined {
  return CODE_TO_KEYSYM.get(code);
}

/** Every code the agent injects (for tests and docs). */
export function supportedKeyCodes(): string[] {
  return [...CODE_TO_KEYSYM.keys()];
}

/** `xdotool key` chords for the combos a browser cannot send itself. */
export const COMBO_CHORDS: Readonly<Record<(typeof KEY_COMBOS)[number], readonly string[]>> = {
  'ctrl-alt-del': ['Control_L', 'Alt_L', 'Delete'],
  'alt-tab': ['Alt_L', 'Tab'],
  win: ['Super_L'],
  'ctrl-esc': ['Control_L', 'Escape'],
  'alt-f4': ['Alt_L', 'F4'],
  'print-screen': ['Print'],
};

/** X pointer button numbers (4–7 are the wheel, which xdotool clicks for scrolling). */
export const POINTER_BUTTON_NUMBERS: Readonly<Record<(typeof POINTER_BUTTONS)[number], number>> = {
  left: 1,
  middle: 2,
  right: 3,
  back: 8,
  forward: 9,
};

/** X buttons that scroll one notch: up, down, left, right. */
export const WHEEL_BUTTONS = { up: 4, down: 5, left: 6, right: 7 } as const;
