// The signed agent-update manifests the server serves. They are signed offline with the release
// key (`npm run release -- sign`); the server holds no signing key, never signs and never edits a
// manifest: it reads `UPDATE_MANIFEST_DIR/*.json`, keeps the documents that parse as signed
// manifests, and serves them unchanged. Agents verify the signature themselves, so a file the
// server wrongly served could at worst be refused — the server is not trusted with integrity.
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  compareVersions,
  signedManifestSchema,
  UPDATE_MANIFEST_MAX_BYTES,
  type SignedManifest,
  type UpdateChannel,
  type UpdatePlatform,
} from '@guruconnect/shared/protocol';
import type { Logger } from '../logging/logger.ts';

/** How long a scan of the directory is reused before the next request looks again. */
export const MANIFEST_RESCAN_INTERVAL_MS = 30_000;

export interface PublishedUpdate {
  platform: UpdatePlatform;
  channel: UpdateChannel;
  version: string;
  issuedAt: string;
  keyId: string;
  file: string;
}

/** Newer version wins; for the same version, the later issuedAt. */
function better(a: SignedManifest, b: SignedManifest): boolean {
  const order = compareVersions(a.manifest.version, b.manifest.version);
  return order > 0 || (order === 0 && a.manifest.issuedAt > b.manifest.issuedAt);
}

export class UpdateCatalog {
  readonly #dir: string | undefined;
  readonly #logger: Logger;
  readonly #intervalMs: number;
  readonly #now: () => number;
  #byTarget = new Map<string, { signed: SignedManifest; file: string }>();
  #scannedAt = -Infinity;
  #scanning: Promise<void> | null = null;
  /** Files already warned about, by name → mtime, so a bad file is reported once per change. */
  readonly #warned = new Map<string, number>();

  constructor(o: { dir: string | undefined; logger: Logger; rescanIntervalMs?: number; now?: () => number }) {
    this.#dir = o.dir;
    this.#logger = o.logger.child({ component: 'update-catalog' });
    this.#intervalMs = o.rescanIntervalMs ?? MANIFEST_RESCAN_INTERVAL_MS;
    this.#now = o.now ?? Date.now;
  }

  /** The manifest to serve for a platform and channel, exactly as signed; null when none is published. */
  async latest(platform: UpdatePlatform, channel: UpdateChannel): Promise<SignedManifest | null> {
    await this.#fresh();
    return this.#byTarget.get(`${platform}/${channel}`)?.signed ?? null;
  }

  /** What is being served, one entry per platform and channel. */
  async published(): Promise<PublishedUpdate[]> {
    await this.#fresh();
    return [...this.#byTarget.values()]
      .map(({ signed, file }) => ({ platform: signed.manifest.platform, channel: signed.manifest.channel, version: signed.manifest.version, issuedAt: signed.manifest.issuedAt, keyId: signed.keyId, file }))
      .sort((a, b) => a.platform.localeCompare(b.platform) || a.channel.localeCompare(b.channel));
  }

  /** Read the directory now (start-up, tests). */
  rescan(): Promise<void> {
    this.#scanning ??= this.#scan().finally(() => {
      this.#scannedAt = this.#now();
      this.#scanning = null;
    });
    return this.#scanning;
  }

  async #fresh(): Promise<void> {
    if (this.#now() - this.#scannedAt >= this.#intervalMs) await this.rescan();
  }

  #warnOnce(file: string, mtimeMs: number, reason: string, extra: Record<string, unknown> = {}): void {
    if (this.#warned.get(file) === mtimeMs) return;
    this.#warned.set(file, mtimeMs);
    this.#logger.warn({ file, reason, ...extra }, 'update manifest skipped');
  }

  async #scan(): Promise<void> {
    if (!this.#dir) return;
    let names: string[];
    try {
      names = (await readdir(this.#dir)).filter((n) => n.endsWith('.json') && !n.startsWith('.')).sort();
    } catch (err) {
      this.#warnOnce('.', 0, 'directory unreadable', { dir: this.#dir, errCode: (err as NodeJS.ErrnoException).code });
      this.#byTarget = new Map();
      return;
    }
    const next = new Map<string, { signed: SignedManifest; file: string }>();
    for (const file of names) {
      const path = join(this.#dir, file);
      let mtimeMs = 0;
      try {
        const st = await stat(path);
        mtimeMs = st.mtimeMs;
        if (!st.isFile()) continue;
        if (st.size > UPDATE_MANIFEST_MAX_BYTES) {
          this.#warnOnce(file, mtimeMs, `larger than ${UPDATE_MANIFEST_MAX_BYTES} bytes`);
          continue;
        }
        let doc: unknown;
        try {
          doc = JSON.parse(await readFile(path, 'utf8'));
        } catch {
          this.#warnOnce(file, mtimeMs, 'not JSON');
          continue;
        }
        const parsed = signedManifestSchema.safeParse(doc);
        if (!parsed.success) {
          const issue = parsed.error.issues[0];
          this.#warnOnce(file, mtimeMs, 'not a signed manifest', { path: issue?.path.join('.') ?? '', problem: issue?.message ?? '' });
          continue;
        }
        const key = `${parsed.data.manifest.platform}/${parsed.data.manifest.channel}`;
        const held = next.get(key);
        if (!held || better(parsed.data, held.signed)) next.set(key, { signed: parsed.data, file });
      } catch (err) {
        this.#warnOnce(file, mtimeMs, 'unreadable', { errCode: (err as NodeJS.ErrnoException).code });
      }
    }
    this.#byTarget = next;
    for (const [key, { signed, file }] of next) {
      this.#logger.debug({ target: key, version: signed.manifest.version, issuedAt: signed.manifest.issuedAt, keyId: signed.keyId, file }, 'update manifest served');
    }
  }
}
