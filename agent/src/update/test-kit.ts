// Test-only: a private PKI made with the openssl CLI, a local HTTPS server, release keys,
// packages and install roots for the update tests. No production code imports this file.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { manifestSigningBytes, type SignedManifest, type UpdateManifest } from '@guruconnect/shared/protocol';

export const hasOpenssl = spawnSync('openssl', ['version']).status === 0;

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `gc-update-${prefix}-`));
}

export interface CertPair {
  /** PEM of the CA that issued `cert`. */
  caPem: string;
  keyPem: string;
  certPem: string;
}

/** A CA and a server certificate for localhost / 127.0.0.1 issued by it (EC P-256, valid one day). */
export function makePki(dir: string, name: string): CertPair {
  const d = join(dir, name);
  mkdirSync(d, { recursive: true });
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: d, stdio: 'pipe' });
  ssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', `/CN=${name} test CA`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-keyout', 'ca.key', '-out', 'ca.pem');
  ssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=localhost', '-keyout', 'server.key', '-out', 'server.csr');
  writeFileSync(join(d, 'ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n');
  ssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '1', '-extfile', 'ext.cnf', '-out', 'server.pem');
  const read = (f: string) => readFileSync(join(d, f), 'utf8');
  return { caPem: read('ca.pem'), keyPem: read('server.key'), certPem: read('server.pem') };
}

export type Handler = (req: IncomingMessage, res: ServerResponse, body: Buffer) => void;

export interface TestHttpsServer {
  url: string;
  /** Requests seen, in order. */
  seen: Array<{ method: string; path: string; authorization: string | undefined; body: string }>;
  routes: Map<string, Handler>;
  close(): Promise<void>;
}

/** An HTTPS server on 127.0.0.1 with the given certificate; `routes` maps `METHOD /path` to a handler. */
export async function startHttpsServer(pair: CertPair): Promise<TestHttpsServer> {
  const seen: TestHttpsServer['seen'] = [];
  const routes = new Map<string, Handler>();
  const server: Server = createServer({ key: pair.keyPem, cert: pair.certPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = new URL(req.url ?? '/', 'https://x').pathname;
      const body = Buffer.concat(chunks);
      seen.push({ method: req.method ?? '', path, authorization: req.headers.authorization, body: body.toString('utf8') });
      const h = routes.get(`${req.method} ${path}`);
      if (h) h(req, res, body);
      else res.writeHead(404).end();
    });
  });
  // TLS handshakes that fail (the untrusted-certificate rows) are expected here.
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${port}`,
    seen,
    routes,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export const json = (status: number, value: unknown): Handler => (_req, res) => {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
};

export interface ReleaseKey {
  keyId: string;
  privateKey: KeyObject;
  publicKeyPem: string;
}

export function makeReleaseKey(keyId: string): ReleaseKey {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { keyId, privateKey, publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

export function signWith(manifest: UpdateManifest, key: ReleaseKey, keyId = key.keyId): SignedManifest {
  return { manifest, keyId, signature: sign(null, manifestSigningBytes(manifest), key.privateKey).toString('base64') };
}

/** A gzipped tar of `files` (made with the system tar, as releases are). */
export function makeTarGz(files: Record<string, string>): Buffer {
  const d = tempDir('pkg');
  try {
    for (const [name, content] of Object.entries(files)) {
      mkdirSync(join(d, 'src', name, '..'), { recursive: true });
      writeFileSync(join(d, 'src', name), content);
    }
    execFileSync('tar', ['-czf', join(d, 'pkg.tar.gz'), '-C', join(d, 'src'), '.']);
    return readFileSync(join(d, 'pkg.tar.gz'));
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
}

export const sha256Hex = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** An install root running `version`: versions/<version>/VERSION and current -> versions/<version>. */
export function makeInstallRoot(version: string): string {
  const root = tempDir('root');
  mkdirSync(join(root, 'versions', version), { recursive: true });
  writeFileSync(join(root, 'versions', version, 'VERSION'), `${version}\n`);
  symlinkSync(join('versions', version), join(root, 'current'));
  return root;
}
