import { describe, expect, it } from 'vitest';
import { dirtyRects } from './screen-capture.ts';

/** A tile grid from rows of '#' (changed) and '.' (unchanged). */
function grid(...rows: string[]): [boolean[], number, number] {
  return [rows.join('').split('').map((c) => c === '#'), rows[0]!.length, rows.length];
}

describe('dirtyRects', () => {
  it('finds nothing on an unchanged screen', () => {
    expect(dirtyRects(...grid('....', '....'))).toEqual([]);
  });

  it('turns runs in a row into one rect each', () => {
    expect(dirtyRects(...grid('##.#'))).toEqual([
      { col: 0, row: 0, cols: 2, rows: 1 },
      { col: 3, row: 0, cols: 1, rows: 1 },
    ]);
  });

  it('merges identical runs of consecutive rows', () => {
    expect(dirtyRects(...grid('.##.', '.##.', '.###'))).toEqual([
      { col: 1, row: 0, cols: 2, rows: 2 },
      { col: 1, row: 2, cols: 3, rows: 1 },
    ]);
  });

  it('covers every changed tile exactly once', () => {
    const [changed, cols, rows] = grid('#.#.#', '#####', '..#..', '#...#');
    const covered = new Array<number>(changed.length).fill(0);
    for (const r of dirtyRects(changed, cols, rows)) {
      for (let y = r.row; y < r.row + r.rows; y++) for (let x = r.col; x < r.col + r.cols; x++) covered[y * cols + x]!++;
    }
    expect(covered).toEqual(changed.map((c) => (c ? 1 : 0)));
  });
});
