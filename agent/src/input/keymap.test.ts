import { KEY_COMBOS } from '@guruconnect/shared/protocol';
import { describe, expect, it } from 'vitest';
import { COMBO_CHORDS, KEYSYM_PATTERN, keysymForCode, supportedKeyCodes } from './keymap.ts';

describe('keymap', () => {
  it.each([
    ['KeyA', 'a'],
    ['KeyZ', 'z'],
    ['Digit0', '0'],
    ['F12', 'F12'],
    ['Enter', 'Return'],
    ['Backspace', 'BackSpace'],
    ['PageUp', 'Prior'],
    ['MetaLeft', 'Super_L'],
    ['AltRight', 'Alt_R'],
    ['Quote', 'apostrophe'],
    ['Backquote', 'grave'],
    ['Numpad5', 'KP_5'],
    ['NumpadEnter', 'KP_Enter'],
    ['CapsLock', 'Caps_Lock'],
  ])('maps %s to %s', (code, keysym) => {
    expect(keysymForCode(code)).toBe(keysym);
  });

  it('covers every key family the viewer sends', () => {
    const families = ['Key', 'Digit', 'F', 'Arrow', 'Numpad', 'Shift', 'Control', 'Alt', 'Meta'];
    const codes = supportedKeyCodes();
    for (const family of families) expect(codes.some((c) => c.startsWith(family)), family).toBe(true);
    expect(codes).toHaveLength(new Set(codes).size);
  });

  it('yields only keysyms that are safe as one word of the xdotool protocol', () => {
    for (const code of supportedKeyCodes()) expect(keysymForCode(code)).toMatch(KEYSYM_PATTERN);
    for (const chord of Object.values(COMBO_CHORDS)) for (const keysym of chord) expect(keysym).toMatch(KEYSYM_PATTERN);
  });

  it.each(['NotAKey', 'constructor', '__proto__', 'toString', 'hasOwnProperty', '', 'keya', 'F13'])('knows nothing about %j', (code) => {
    expect(keysymForCode(code)).toBeUndefined();
  });

  it('has a chord for every combo in the protocol', () => {
    expect(Object.keys(COMBO_CHORDS).sort()).toEqual([...KEY_COMBOS].sort());
  });
});
