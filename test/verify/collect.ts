// Reads back what the suites recorded (test/support/figures.ts) — every `<name>.json` under the
// figures directory, shards included — tolerating anything missing or oddly shaped.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

export type Json = Record<string, unknown>;

export interface FuzzTarget {
  target: string;
  inputs: number;
  failures: number;
  properties: Array<{ property: string; runs: number; failed: boolean }>;
}

/** Every figures file by name; files of the same name from several shards are listed in order. */
export function readFigures(dir: string): Map<string, Json[]> {
  const out = new Map<string, Json[]>();
  const walk = (d: string) => {
    if (!existsSync(d)) return;
    for (const entry of readdirSync(d).sort()) {
      const path = join(d, entry);
      if (statSync(path).isDirectory()) walk(path);
      else if (entry.endsWith('.json') && !entry.startsWith('vitest-')) {
        try {
          const json = JSON.parse(readFileSync(path, 'utf8')) as unknown;
          if (json && typeof json === 'object') out.set(entry.slice(0, -5), [...(out.get(entry.slice(0, -5)) ?? []), json as Json]);
        } catch {
          // A half-written file: the report says "not measured" for what it held.
        }
      }
    }
  };
  walk(dir);
  return out;
}

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

/** Fuzz counts per target, shards summed. */
export function fuzzTargets(figures: Map<string, Json[]>): FuzzTarget[] {
  const out: FuzzTarget[] = [];
  for (const [name, files] of figures) {
    if (!name.startsWith('fuzz-')) continue;
    const properties = files.flatMap((f) => (Array.isArray(f.properties) ? (f.properties as Json[]) : [])).map((p) => ({ property: String(p.property ?? '?'), runs: num(p.runs), failed: p.failed === true }));
    out.push({ target: name.slice('fuzz-'.length), inputs: files.reduce((n, f) => n + num(f.inputs), 0), failures: files.reduce((n, f) => n + num(f.failures), 0), properties });
  }
  return out.sort((a, b) => a.target.localeCompare(b.target));
}

/** The last file of that name, if any. */
export function one(figures: Map<string, Json[]>, name: string): Json | undefined {
  return figures.get(name)?.at(-1);
}

/** A value at a dotted path, if present. */
export function pick(obj: Json | undefined, ...paths: string[]): unknown {
  for (const path of paths) {
    let v: unknown = obj;
    for (const key of path.split('.')) v = v && typeof v === 'object' ? (v as Json)[key] : undefined;
    if (v !== undefined && v !== null) return v;
  }
  return undefined;
}
