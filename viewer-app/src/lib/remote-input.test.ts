import { describe, expect, it } from 'vitest';
import { HeldInput, keyCode, pointerButton, toRemotePoint, wheelDelta } from './remote-input.ts';

const box = { left: 100, top: 50, width: 640, height: 360 };

describe('toRemotePoint', () => {
  // Each row: client point, canvas box, remote screen, contain?, expected remote point.
  const rows: Array<[string, number, number, typeof box, number, number, boolean, { x: number; y: number } | null]> = [
    ['top-left corner at 1:1', 100, 50, box, 640, 360, false, { x: 0, y: 0 }],
    ['centre at 1:1', 420, 230, box, 640, 360, false, { x: 320, y: 180 }],
    ['scaled down 2×', 420, 230, box, 1280, 720, false, { x: 640, y: 360 }],
    ['outside is clamped', 5000, -40, box, 640, 360, false, { x: 639, y: 0 }],
    ['letterboxed: picture centred in a taller box', 420, 50 + 180, { left: 100, top: 50, width: 640, height: 640 }, 640, 360, true, { x: 320, y: 40 }],
    ['letterbox band maps to the edge', 420, 60, { left: 100, top: 50, width: 640, height: 640 }, 640, 360, true, { x: 320, y: 0 }],
    ['unknown screen size', 420, 230, box, 0, 0, false, null],
  ];
  it.each(rows)('%s', (_what, cx, cy, b, sw, sh, contain, expected) => {
    expect(toRemotePoint(cx, cy, b, sw, sh, contain)).toEqual(expected);
  });
});

describe('input mapping', () => {
  it('maps mouse buttons and refuses unknown ones', () => {
    expect([0, 1, 2, 3, 4].map(pointerButton)).toEqual(['left', 'middle', 'right', 'back', 'forward']);
    expect(pointerButton(7)).toBeNull();
  });

  it('normalises wheel lines and pages to clamped whole pixels', () => {
    expect(wheelDelta(0, 3, 1)).toEqual({ dx: 0, dy: 120 });
    expect(wheelDelta(0.4, -2.6, 0)).toEqual({ dx: 0, dy: -3 });
    expect(wheelDelta(0, 100, 2)).toEqual({ dx: 0, dy: 10_000 });
  });

  it('accepts physical key codes the protocol allows', () => {
    expect(keyCode('KeyA')).toBe('KeyA');
    expect(keyCode('ShiftLeft')).toBe('ShiftLeft');
    expect(keyCode('')).toBeNull();
    expect(keyCode('Key-A')).toBeNull();
    expect(keyCode('X'.repeat(33))).toBeNull();
  });

  it('releases every held key and button once', () => {
    const held = new HeldInput();
    held.key('KeyA', true);
    held.key('ShiftLeft', true);
    held.key('KeyA', false);
    held.button('left', true);
    expect(held.releaseAll(5, 6, 1)).toEqual([
      { type: 'key', code: 'ShiftLeft', down: false, t: 1 },
      { type: 'pointer:button', button: 'left', down: false, x: 5, y: 6, t: 1 },
    ]);
    expect(held.releaseAll(0, 0, 2)).toEqual([]);
  });
});
