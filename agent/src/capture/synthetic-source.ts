import { writeStamp, STAMP_HEIGHT_PX, STAMP_WIDTH_PX } from '@guruconnect/shared/codec';
import type { RawFrame, ScreenSource } from './screen-source.ts';

/**
 * A deterministic, animated desktop for benchmarks and tests. Every pixel except the stamp is a
 * function of `seq` alone: a gradient desktop and taskbar, an editor window where
 * `GLYPHS_PER_FRAME` glyphs are "typed" per frame (page cleared when full), a log window that
 * scrolls `SCROLL_PX_PER_FRAME` rows per frame, a window sliding `MOVE_PX_PER_FRAME` pixels per
 * frame along the bottom, a "video" that changes completely every frame, and the shared stamp
 * (seq + capture time) at (0, 0).
 *
 * The `office` scene is the same desktop at the pace of a person doing office work: no video and
 * no moving window, one glyph typed every `OFFICE_FRAMES_PER_GLYPH` frames, and the log window
 * scrolled by one mouse-wheel notch (`OFFICE_SCROLL_PX`, three text lines, in one step) every
 * `OFFICE_FRAMES_PER_SCROLL` frames. At 30 fps: 7.5 characters/s (~90 words per minute) and one
 * notch per second.
 *
 * Rendering is incremental: one working buffer is updated in place with row `fill`s and
 * `copyWithin` (no per-pixel loop over the frame), then `capture()` returns a FRESH COPY
 * (`data` belongs to the caller and is never touched again), so a pipeline may keep it as its
 * previous frame.
 */

export const GLYPHS_PER_FRAME = 3;
export const SCROLL_PX_PER_FRAME = 2;
export const MOVE_PX_PER_FRAME = 6;
export const OFFICE_FRAMES_PER_GLYPH = 4;
export const OFFICE_FRAMES_PER_SCROLL = 30;
/** One mouse-wheel notch: three 18-px text lines. */
export const OFFICE_SCROLL_PX = 54;
/** `desktop`: everything moves every frame; `office`: typing and scrolling at a human pace. */
export const SYNTHETIC_SCENES = ['desktop', 'office'] as const;
export type SyntheticScene = (typeof SYNTHETIC_SCENES)[number];
export const SYNTHETIC_MIN_WIDTH_PX = 320;
export const SYNTHETIC_MIN_HEIGHT_PX = 240;

const TOP_PX = 64; // below the stamp, so scrolling never copies stamp pixels
const TASKBAR_PX = 40;
const TITLE_PX = 24;
const GAP_PX = 16;
const CELL_W = 10;
const CELL_H = 18;
const VIDEO_SEGMENTS = 16;

export type SyntheticRegionName = 'screen' | 'stamp' | 'typing' | 'scroll' | 'moving-window' | 'video';
/** A screen rectangle in pixels. */
export interface SyntheticRegion {
  readonly name: SyntheticRegionName;
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}
type Box = Omit<SyntheticRegion, 'name'>;

export interface SyntheticSourceOptions {
  width?: number;
  height?: number;
  /** Clock for `captureTsMs` (ms since the epoch); default `Date.now`. */
  now?: () => number;
  /** Default `desktop`. */
  scene?: SyntheticScene;
}

if (new Uint8Array(new Uint32Array([1]).buffer)[0] !== 1) throw new Error('synthetic source assumes a little-endian host');

/** An RGBA8 pixel as the u32 a little-endian `Uint32Array` view stores. */
function rgb(r: number, g: number, b: number): number {
  return ((255 << 24) | (b << 16) | (g << 8) | r) >>> 0;
}

/** Integer hash (murmur3 finaliser) of a few non-negative ints. */
function hash(a: number, b = 0, c = 0): number {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b + 0x632be5ab, 0xc2b2ae35) ^ Math.imul(c + 0x27d4eb2f, 0x165667b1);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Rectangles `[dx, dy, w, h]` of a glyph inside its 10×18 cell; empty for a space. */
function glyphRects(code: number): number[][] {
  if ((code & 7) === 0) return [];
  const stemX = 1 + ((code >>> 3) & 3);
  const rects = [
    [stemX, 3, 2, 8 + ((code >>> 5) & 3) * 2],
    [1, 3 + ((code >>> 7) & 7), 5 + ((code >>> 10) & 3), 2],
  ];
  if ((code >>> 12) & 1) rects.push([stemX + 4, 3 + ((code >>> 13) & 3), 2, 6 + ((code >>> 15) & 3)]);
  return rects;
}

function bodyOf(window: Box): Box {
  return { x: window.x + 4, y: window.y + TITLE_PX, width: window.width - 8, height: window.height - TITLE_PX - 4 };
}

/** Where everything is on a `width × height` screen. */
function sceneLayout(width: number, height: number) {
  const topH = Math.floor((height - TOP_PX - TASKBAR_PX) * 0.55);
  const typingWindow: Box = { x: 32, y: TOP_PX, width: Math.floor(width * 0.46) - 32, height: topH };
  const scrollWindow: Box = { x: Math.floor(width * 0.5), y: TOP_PX, width: Math.floor(width * 0.46), height: topH };
  const typingBody = bodyOf(typingWindow);
  const cols = Math.floor((typingBody.width - 16) / CELL_W);
  const rows = Math.floor((typingBody.height - 12) / CELL_H);
  const text: Box = { x: typingBody.x + 8, y: typingBody.y + 6, width: cols * CELL_W, height: rows * CELL_H };
  const bottomY = TOP_PX + topH + GAP_PX;
  const bottomH = height - TASKBAR_PX - GAP_PX - bottomY;
  const videoW = Math.floor(width * 0.2);
  const video: Box = { x: Math.floor(width * 0.72), y: bottomY, width: videoW, height: Math.min(bottomH, Math.floor((videoW * 9) / 16)) };
  const movingW = Math.floor(width * 0.14);
  const moving = { y: bottomY, width: movingW, height: Math.min(bottomH, Math.floor(height * 0.16)), minX: 32, maxX: video.x - GAP_PX - movingW };
  return { typingWindow, scrollWindow, typingBody, text, cols, rows, scroll: bodyOf(scrollWindow), video, moving };
}
type SceneLayout = ReturnType<typeof sceneLayout>;

/** Left edge of the sliding window at `seq` (a triangle wave between minX and maxX). */
function movingX(layout: SceneLayout, seq: number): number {
  const travel = layout.moving.maxX - layout.moving.minX;
  const t = (seq * MOVE_PX_PER_FRAME) % (2 * travel);
  return layout.moving.minX + (t <= travel ? t : 2 * travel - t);
}

/** Glyphs typed in frames 1..`seq` (frame 0 is the initial screen). */
function glyphsTyped(scene: SyntheticScene, seq: number): number {
  return scene === 'office' ? Math.floor(seq / OFFICE_FRAMES_PER_GLYPH) : seq * GLYPHS_PER_FRAME;
}

/** How far the log document has scrolled at `seq`, in pixel rows. */
function scrollOffset(scene: SyntheticScene, seq: number): number {
  return scene === 'office' ? Math.floor(seq / OFFICE_FRAMES_PER_SCROLL) * OFFICE_SCROLL_PX : seq * SCROLL_PX_PER_FRAME;
}

function assertSize(width: number, height: number): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < SYNTHETIC_MIN_WIDTH_PX || height < SYNTHETIC_MIN_HEIGHT_PX) {
    throw new RangeError(`synthetic screen must be at least ${SYNTHETIC_MIN_WIDTH_PX}×${SYNTHETIC_MIN_HEIGHT_PX}, got ${width}×${height}`);
  }
}

/**
 * The regions whose pixels may differ between frame `seq − 1` and frame `seq` (for `seq` 0: the
 * whole screen). Every changed pixel lies inside one of them; `stamp` and `video` change every frame.
 */
export function syntheticChangedRegions(seq: number, width = 1920, height = 1080, scene: SyntheticScene = 'desktop'): SyntheticRegion[] {
  assertSize(width, height);
  if (seq === 0) return [{ name: 'screen', x: 0, y: 0, width, height }];
  const layout = sceneLayout(width, height);
  const regions: SyntheticRegion[] = [{ name: 'stamp', x: 0, y: 0, width: STAMP_WIDTH_PX, height: STAMP_HEIGHT_PX }];

  const page = layout.cols * layout.rows;
  const first = glyphsTyped(scene, seq - 1);
  const last = glyphsTyped(scene, seq) - 1;
  const pageCleared = Math.floor(last / page) > Math.floor(first / page) || (first > 0 && first % page === 0);
  if (last >= first && pageCleared) {
    regions.push({ name: 'typing', ...layout.text });
  } else if (last >= first) {
    const line0 = Math.floor((first % page) / layout.cols);
    const line1 = Math.floor((last % page) / layout.cols);
    regions.push({ name: 'typing', x: layout.text.x, y: layout.text.y + line0 * CELL_H, width: layout.text.width, height: (line1 - line0 + 1) * CELL_H });
  }
  if (scrollOffset(scene, seq) !== scrollOffset(scene, seq - 1)) regions.push({ name: 'scroll', ...layout.scroll });
  if (scene === 'office') return regions;

  const x0 = movingX(layout, seq - 1);
  const x1 = movingX(layout, seq);
  if (x0 !== x1) {
    const left = Math.min(x0, x1);
    regions.push({ name: 'moving-window', x: left, y: layout.moving.y, width: Math.max(x0, x1) - left + layout.moving.width, height: layout.moving.height });
  }
  regions.push({ name: 'video', ...layout.video });
  return regions;
}

/** Creates the synthetic screen. `capture()` advances `seq` by one per call, starting at 0. */
export function createSyntheticSource(options: SyntheticSourceOptions = {}): ScreenSource {
  const { width = 1920, height = 1080, now = Date.now, scene = 'desktop' } = options;
  assertSize(width, height);
  const layout = sceneLayout(width, height);
  const px = new Uint32Array(width * height);
  const bytes = new Uint8Array(px.buffer);
  const background = Array.from({ length: height }, (_, y) => {
    const t = y / height;
    return rgb(Math.round(18 + 30 * t), Math.round(70 + 40 * t), Math.round(120 - 50 * t));
  });
  const videoPalette = Array.from({ length: 256 }, (_, i) => {
    const a = (i / 256) * 2 * Math.PI;
    return rgb(Math.round(128 + 100 * Math.sin(a)), Math.round(128 + 100 * Math.sin(a + 2.1)), Math.round(128 + 100 * Math.sin(a + 4.2)));
  });
  const textColors = [rgb(220, 220, 220), rgb(120, 200, 120), rgb(230, 190, 100), rgb(130, 170, 240)];
  const WHITE = rgb(255, 255, 255);
  const INK = rgb(30, 30, 40);
  const LOG_BG = rgb(28, 28, 32);
  let seq = 0;
  let closed = false;

  const fillRect = (box: Box, color: number): void => {
    for (let y = box.y; y < box.y + box.height; y++) px.fill(color, y * width + box.x, y * width + box.x + box.width);
  };
  const eraseToDesktop = (box: Box): void => {
    for (let y = box.y; y < box.y + box.height; y++) px.fill(background[y] ?? 0, y * width + box.x, y * width + box.x + box.width);
  };
  const drawGlyph = (x: number, y: number, code: number, color: number): void => {
    for (const [dx = 0, dy = 0, w = 0, h = 0] of glyphRects(code)) fillRect({ x: x + dx, y: y + dy, width: w, height: h }, color);
  };
  const drawWindow = (box: Box, title: number, body: number): void => {
    fillRect(box, rgb(90, 90, 100));
    fillRect({ x: box.x + 1, y: box.y + 1, width: box.width - 2, height: TITLE_PX - 2 }, title);
    fillRect(bodyOf(box), body);
  };

  /** Draws row `docRow` of the endless log document at screen row `y` of the scroll body. */
  const drawLogRow = (docRow: number, y: number): void => {
    const { x, width: w } = layout.scroll;
    px.fill(LOG_BG, y * width + x, y * width + x + w);
    const line = Math.floor(docRow / CELL_H);
    const yIn = docRow % CELL_H;
    const cells = Math.floor((w - 16) / CELL_W);
    if (hash(line, 2) % 7 === 0) return; // blank line
    const indent = (hash(line) % 4) * 2;
    const length = indent + (hash(line, 1) % Math.max(1, cells - indent));
    const color = textColors[hash(line, 3) % textColors.length] ?? WHITE;
    for (let c = indent; c < length; c++) {
      for (const [dx = 0, dy = 0, rw = 0, rh = 0] of glyphRects(hash(line, c + 10))) {
        if (yIn < dy || yIn >= dy + rh) continue;
        const start = y * width + x + 8 + c * CELL_W + dx;
        px.fill(color, start, start + rw);
      }
    }
  };

  const drawMovingWindow = (x: number): void => {
    const box = { x, y: layout.moving.y, width: layout.moving.width, height: layout.moving.height };
    drawWindow(box, rgb(160, 60, 60), rgb(235, 235, 225));
    const body = bodyOf(box);
    if (body.height < 24) return;
    for (let i = 0; i < 3 && 8 + i * 28 + 20 <= body.width; i++) {
      fillRect({ x: body.x + 8 + i * 28, y: body.y + 8, width: 20, height: 12 }, rgb(60 + i * 50, 120, 200));
    }
  };

  const drawVideo = (frame: number): void => {
    const { x, y, width: w, height: h } = layout.video;
    const segment = Math.ceil(w / VIDEO_SEGMENTS);
    for (let j = 0; j < h; j++) {
      const band = j >> 3;
      for (let s = 0; s < VIDEO_SEGMENTS; s++) {
        const x0 = s * segment;
        if (x0 >= w) break;
        const v = (band * 5 + s * 11 + frame * 3 + (hash(band, s, frame) & 0x1f)) & 255;
        const start = (y + j) * width + x + x0;
        px.fill(videoPalette[v] ?? 0, start, start + Math.min(segment, w - x0));
      }
    }
  };

  const drawScene = (): void => {
    for (let y = 0; y < height; y++) px.fill(background[y] ?? 0, y * width, (y + 1) * width);
    fillRect({ x: 0, y: height - TASKBAR_PX, width, height: TASKBAR_PX }, rgb(32, 32, 40));
    for (let i = 0; i < 6; i++) fillRect({ x: 56 + i * 40, y: height - TASKBAR_PX + 6, width: 28, height: 28 }, rgb(70 + i * 25, 110, 160));
    drawWindow(layout.typingWindow, rgb(40, 90, 170), WHITE);
    drawWindow(layout.scrollWindow, rgb(60, 60, 70), LOG_BG);
    for (let j = 0; j < layout.scroll.height; j++) drawLogRow(j, layout.scroll.y + j);
    if (scene === 'office') return;
    drawMovingWindow(movingX(layout, 0));
    drawVideo(0);
  };

  /** Moves the scene from frame `n − 1` to frame `n`. */
  const advance = (n: number): void => {
    const page = layout.cols * layout.rows;
    for (let k = glyphsTyped(scene, n - 1); k < glyphsTyped(scene, n); k++) {
      const cell = k % page;
      if (cell === 0 && k > 0) fillRect(layout.text, WHITE);
      drawGlyph(layout.text.x + (cell % layout.cols) * CELL_W, layout.text.y + Math.floor(cell / layout.cols) * CELL_H, hash(k, 7), INK);
    }

    const { x, y, width: w, height: h } = layout.scroll;
    const offset = scrollOffset(scene, n);
    const step = offset - scrollOffset(scene, n - 1);
    if (step > 0) {
      for (let j = 0; j + step < h; j++) {
        const src = (y + j + step) * width + x;
        px.copyWithin((y + j) * width + x, src, src + w);
      }
      for (let j = Math.max(0, h - step); j < h; j++) drawLogRow(offset + j, y + j);
    }
    if (scene === 'office') return;

    const before = movingX(layout, n - 1);
    const after = movingX(layout, n);
    if (before !== after) {
      eraseToDesktop({ x: before, y: layout.moving.y, width: layout.moving.width, height: layout.moving.height });
      drawMovingWindow(after);
    }
    drawVideo(n);
  };

  drawScene();
  return {
    kind: 'synthetic',
    width,
    height,
    capture(): Promise<RawFrame> {
      if (closed) return Promise.reject(new Error('synthetic source is closed'));
      if (seq > 0) advance(seq);
      const captureTsMs = now();
      writeStamp(bytes, width, height, { seq, captureTsMs });
      const frame: RawFrame = { width, height, data: bytes.slice(), captureTsMs, seq };
      seq++;
      return Promise.resolve(frame);
    },
    close(): Promise<void> {
      closed = true;
      return Promise.resolve();
    },
  };
}
