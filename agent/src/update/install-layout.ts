// The install root an updatable agent runs from:
//
//   <root>/versions/<version>/…     one unpacked package per version
//   <root>/current -> versions/<v>   relative symlink; the supervisor starts current/…
//   <root>/state.json                { lastAppliedIssuedAt } — the replay high-water mark
//   <root>/pending.json              an applied but unconfirmed update (rollback record)
//   <root>/update-reports.json       reports not yet delivered to the server
//   <root>/launcher-rollback.json    the launcher switched back a version that never reached recovery
//   <root>/downloads/                packages being downloaded (same file system, so rename works)
//
// `current` is only ever replaced by rename(2) of a fresh symlink over it, which is atomic:
// a crash leaves either the old or the new link, never none.
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, readlink, rename, rm, symlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { z } from 'zod';
import { manifestIssuedAtSchema, semverSchema } from '@guruconnect/shared/protocol';

export const installPaths = (root: string) => ({
  versions: join(root, 'versions'),
  current: join(root, 'current'),
  state: join(root, 'state.json'),
  pending: join(root, 'pending.json'),
  outbox: join(root, 'update-reports.json'),
  launcherRollback: join(root, 'launcher-rollback.json'),
  downloads: join(root, 'downloads'),
});

export const versionDir = (root: string, version: string) => join(root, 'versions', version);

/** The version `current` points at, or null when there is no (well-formed) link. */
export async function readCurrentVersion(root: string): Promise<string | null> {
  let target: string;
  try {
    target = await readlink(installPaths(root).current);
  } catch {
    return null;
  }
  const version = basename(target);
  return dirname(target) === 'versions' && semverSchema.safeParse(version).success ? version : null;
}

/** Point `current` at `versions/<version>` atomically (a new symlink renamed over the old one). */
export async function switchCurrent(root: string, version: string): Promise<void> {
  const tmp = join(root, `.current-${randomBytes(6).toString('hex')}`);
  await symlink(join('versions', version), tmp);
  try {
    await rename(tmp, installPaths(root).current);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await syncDir(root);
}

/** fsync a directory so a rename in it survives a power cut (best effort: not every platform allows it). */
async function syncDir(dir: string): Promise<void> {
  try {
    const fh = await open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // Windows cannot open directories; the rename is still atomic.
  }
}

/** Write JSON so that readers see the old or the new document, never a torn one. */
export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  const fh = await open(tmp, 'wx', 0o600);
  try {
    await fh.writeFile(`${JSON.stringify(value, null, 2)}\n`);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await syncDir(dirname(path));
}

/** Read and validate a JSON file; null when it does not exist. A corrupt file throws. */
export async function readJson<T>(path: string, schema: z.ZodType<T>): Promise<T | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  return schema.parse(JSON.parse(text));
}

const stateSchema = z.object({ lastAppliedIssuedAt: manifestIssuedAtSchema.nullable() });
export type UpdateState = z.infer<typeof stateSchema>;

/** The replay high-water mark. A missing file means nothing was ever applied. */
export async function readUpdateState(root: string): Promise<UpdateState> {
  return (await readJson(installPaths(root).state, stateSchema)) ?? { lastAppliedIssuedAt: null };
}

export function writeUpdateState(root: string, state: UpdateState): Promise<void> {
  return writeJsonAtomic(installPaths(root).state, state);
}
