import { randomUUID } from 'node:crypto';
import type { RuntimeDataModel } from '@prisma/client/runtime/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Prisma } from './generated/client.ts';
import type { Database } from './open-database.ts';
import type { SqlDriver } from './sql-driver.ts';
import { createTestDatabase, databaseKinds, type TestDatabase } from './test-database.ts';

/** SQLSTATE of a failed statement, whichever driver raised it. */
async function sqlState(run: Promise<unknown>): Promise<string | undefined> {
  try {
    await run;
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
}

const CHECK_VIOLATION = '23514';
const UNIQUE_VIOLATION = '23505';

describe.each(databaseKinds())('schema on %s', (kind) => {
  let t: TestDatabase;
  let db: Database;
  let driver: SqlDriver;
  let userId: string;

  beforeAll(async () => {
    t = await createTestDatabase(kind);
    db = t.db;
    driver = db.driver;
    userId = (await db.prisma.user.create({ data: { username: 'owner', displayName: 'Owner', passwordHash: 'h' } })).id;
  });
  afterAll(async () => {
    await t?.cleanup();
  });

  function insertSupportCode(code: string, status: string) {
    return driver.query(
      `INSERT INTO support_codes (id, code, created_by, status, expires_at) VALUES ($1, $2, $3, $4, now() + interval '10 minutes')`,
      [randomUUID(), code, userId, status],
    );
  }

  function insertMachine(uid: string | null, opts: { keyed?: boolean; removed?: boolean } = {}) {
    return driver.query(
      `INSERT INTO machines (id, machine_uid, keyed, name, removed_at) VALUES ($1, $2, $3, 'm', $4)`,
      [randomUUID(), uid, opts.keyed ?? false, opts.removed ? new Date() : null],
    );
  }

  describe('through Prisma', () => {
    it('creates a user with the schema defaults and reads it back', async () => {
      const created = await db.prisma.user.create({
        data: { username: 'alice', displayName: 'Alice', passwordHash: 'argon2id$…', role: 'admin' },
      });
      const read = await db.prisma.user.findUniqueOrThrow({ where: { id: created.id } });
      expect(read).toMatchObject({ username: 'alice', role: 'admin', permissions: [], disabled: false, lastLoginAt: null });
      expect(read.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(read.createdAt).toBeInstanceOf(Date);
      expect(read.tokensValidAfter.getTime()).toBeLessThanOrEqual(Date.now());
    });

    it.each([
      ['IPv4', '203.0.113.7'],
      ['IPv6', '2001:db8::1'],
    ])('stores an audit event with an %s client ip and JSONB details', async (_label, ip) => {
      const details = { reason: 'login', attempts: 3, nested: { ok: true, list: [1, 'two', null] } };
      const created = await db.prisma.auditEvent.create({ data: { type: 'auth:login', clientIp: ip, actorUserId: userId, details } });
      expect(typeof created.id).toBe('bigint');

      const read = await db.prisma.auditEvent.findFirstOrThrow({ where: { id: created.id } });
      expect(read).toMatchObject({ type: 'auth:login', clientIp: ip, actorUserId: userId, details });
      expect(await db.prisma.auditEvent.count({ where: { clientIp: ip } })).toBe(1);
    });

    it('reports a duplicate live support code as a unique violation (P2002)', async () => {
      const data = { code: '424242', createdBy: userId, expiresAt: new Date(Date.now() + 60_000) };
      await db.prisma.supportCode.create({ data });
      const err = await db.prisma.supportCode.create({ data }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Prisma.PrismaClientKnownRequestError);
      expect((err as Prisma.PrismaClientKnownRequestError).code).toBe('P2002');
    });

    it('cascades a user delete to tokens and support codes, and unlinks sessions', async () => {
      const user = await db.prisma.user.create({ data: { username: 'leaver', displayName: 'L', passwordHash: 'h' } });
      const now = new Date();
      await db.prisma.authToken.create({
        data: { jti: `jti-${user.id}`, userId: user.id, purpose: 'login', issuedAt: now, expiresAt: now },
      });
      const code = await db.prisma.supportCode.create({ data: { code: '100200', createdBy: user.id, expiresAt: now } });
      const session = await db.prisma.session.create({ data: { kind: 'support', supportCodeId: code.id } });

      await db.prisma.user.delete({ where: { id: user.id } });

      expect(await db.prisma.authToken.count({ where: { userId: user.id } })).toBe(0);
      expect(await db.prisma.supportCode.count({ where: { id: code.id } })).toBe(0);
      expect(await db.prisma.session.findUniqueOrThrow({ where: { id: session.id } })).toMatchObject({ supportCodeId: null });
    });
  });

  describe('constraints Prisma cannot express', () => {
    it.each([
      ['users.role', `INSERT INTO users (id, username, display_name, password_hash, role) VALUES (gen_random_uuid(), 'r1', 'R', 'h', 'root')`],
      ['sessions.kind', `INSERT INTO sessions (id, kind) VALUES (gen_random_uuid(), 'remote')`],
      ['sessions.status', `INSERT INTO sessions (id, kind, status) VALUES (gen_random_uuid(), 'support', 'paused')`],
      ['sessions.path', `INSERT INTO sessions (id, kind, path) VALUES (gen_random_uuid(), 'support', 'tcp')`],
      ['support_codes.status', `INSERT INTO support_codes (id, code, created_by, status, expires_at) VALUES (gen_random_uuid(), '000001', '$USER', 'used', now())`],
      ['auth_tokens.purpose', `INSERT INTO auth_tokens (jti, user_id, purpose, issued_at, expires_at) VALUES ('j-bad', '$USER', 'refresh', now(), now())`],
    ])('refuses a value outside the closed set for %s', async (_column, sql) => {
      expect(await sqlState(driver.exec(sql.replaceAll('$USER', userId)))).toBe(CHECK_VIOLATION);
    });

    it('accepts every value of the closed sets, and a NULL session path', async () => {
      for (const kindValue of ['support', 'unattended']) {
        for (const status of ['online', 'offline', 'ended', 'removed']) {
          for (const path of ['p2p', 'relay', null]) {
            await driver.query(`INSERT INTO sessions (id, kind, status, path) VALUES ($1, $2, $3, $4)`, [
              randomUUID(),
              kindValue,
              status,
              path,
            ]);
          }
        }
      }
      for (const [i, status] of ['pending', 'connected', 'completed', 'cancelled', 'expired'].entries()) {
        await insertSupportCode(`77770${i}`, status);
      }
      for (const purpose of ['login', 'viewer']) {
        await driver.query(
          `INSERT INTO auth_tokens (jti, user_id, purpose, issued_at, expires_at) VALUES ($1, $2, $3, now(), now())`,
          [randomUUID(), userId, purpose],
        );
      }
    });

    it('refuses a second live support code with the same code, pending or connected', async () => {
      await insertSupportCode('111111', 'pending');
      expect(await sqlState(insertSupportCode('111111', 'pending'))).toBe(UNIQUE_VIOLATION);
      expect(await sqlState(insertSupportCode('111111', 'connected'))).toBe(UNIQUE_VIOLATION);
    });

    it('lets a finished support code be reused', async () => {
      await insertSupportCode('222222', 'completed');
      await insertSupportCode('222222', 'expired');
      await insertSupportCode('222222', 'pending');
      await driver.exec(`UPDATE support_codes SET status = 'cancelled' WHERE code = '222222' AND status = 'pending'`);
      await insertSupportCode('222222', 'pending');
      const [row] = await driver.query<{ n: number }>(`SELECT count(*)::int AS n FROM support_codes WHERE code = '222222'`);
      expect(row?.n).toBe(4);
    });

    it('refuses two live un-keyed machines with the same machine_uid', async () => {
      await insertMachine('uid-a');
      expect(await sqlState(insertMachine('uid-a'))).toBe(UNIQUE_VIOLATION);
    });

    it('lets keyed, removed and uid-less machines share a machine_uid', async () => {
      await insertMachine('uid-b', { keyed: true });
      await insertMachine('uid-b', { keyed: true });
      await insertMachine('uid-b', { removed: true });
      await insertMachine('uid-b');
      await insertMachine(null);
      await insertMachine(null);
    });

    it('refuses a username that differs only in case', async () => {
      await driver.query(`INSERT INTO users (id, username, display_name, password_hash) VALUES ($1, 'Bob', 'B', 'h')`, [randomUUID()]);
      const dup = driver.query(`INSERT INTO users (id, username, display_name, password_hash) VALUES ($1, 'bob', 'b', 'h')`, [randomUUID()]);
      expect(await sqlState(dup)).toBe(UNIQUE_VIOLATION);
    });
  });

  describe('drift between schema.prisma and the migrations', () => {
    // Prisma 7's `prisma-client` generator exposes no `Prisma.dmmf`; the runtime data
    // model (table/column names as the client will query them) lives on the client.
    function dataModel(): RuntimeDataModel {
      return (db.prisma as unknown as { _runtimeDataModel: RuntimeDataModel })._runtimeDataModel;
    }

    async function columnsByTable(): Promise<Map<string, Map<string, string>>> {
      const rows = await driver.query<{ table_name: string; column_name: string; udt_name: string }>(
        `SELECT table_name, column_name, udt_name FROM information_schema.columns
          WHERE table_schema = current_schema() AND table_name <> '_prisma_migrations'`,
      );
      const tables = new Map<string, Map<string, string>>();
      for (const r of rows) {
        const columns = tables.get(r.table_name) ?? new Map<string, string>();
        columns.set(r.column_name, r.udt_name);
        tables.set(r.table_name, columns);
      }
      return tables;
    }

    // Prisma scalar type → PostgreSQL udt names the column may have (lists are `_<udt>`).
    const UDT_FAMILY: Record<string, string[]> = {
      String: ['text', 'uuid', 'inet', 'bpchar', 'varchar', '_text'],
      Boolean: ['bool'],
      DateTime: ['timestamptz'],
      BigInt: ['int8'],
      Int: ['int4'],
      Json: ['jsonb'],
    };

    it('has a table and a column of the right family for every model and scalar field', async () => {
      const tables = await columnsByTable();
      const models = Object.entries(dataModel().models);
      expect(models.length).toBeGreaterThan(0);
      for (const [name, model] of models) {
        const table = model.dbName ?? name;
        const columns = tables.get(table);
        expect(columns, `table ${table} for model ${name}`).toBeDefined();
        for (const field of model.fields.filter((f) => f.kind === 'scalar')) {
          const column = field.dbName ?? field.name;
          const udt = columns?.get(column);
          expect(udt, `column ${table}.${column} for ${name}.${field.name}`).toBeDefined();
          expect(UDT_FAMILY[field.type], `type ${field.type} of ${name}.${field.name}`).toContain(udt);
        }
      }
    });

    it('has no table or column that schema.prisma does not know', async () => {
      const known = new Map<string, Set<string>>();
      for (const [name, model] of Object.entries(dataModel().models)) {
        const scalars = model.fields.filter((f) => f.kind === 'scalar').map((f) => f.dbName ?? f.name);
        known.set(model.dbName ?? name, new Set(scalars));
      }
      for (const [table, columns] of await columnsByTable()) {
        expect(known.has(table), `table ${table} is not in schema.prisma`).toBe(true);
        for (const column of columns.keys()) {
          expect(known.get(table)?.has(column), `column ${table}.${column} is not in schema.prisma`).toBe(true);
        }
      }
    });
  });
});
