import type { Permission, Role } from '@guruconnect/shared/protocol';
import type { PrismaClient } from '../generated/client.ts';

export interface UserRecord {
  id: string;
  username: string;
  displayName: string;
  passwordHash: string;
  role: Role;
  permissions: Permission[];
  disabled: boolean;
  /** Tokens issued before this instant are dead. */
  tokensValidAfter: Date;
  createdAt: Date;
  lastLoginAt: Date | null;
}

export interface NewUser {
  username: string;
  displayName: string;
  passwordHash: string;
  role: Role;
  permissions: Permission[];
}

export type UserPatch = Partial<Pick<UserRecord, 'displayName' | 'passwordHash' | 'role' | 'permissions' | 'disabled' | 'tokensValidAfter' | 'lastLoginAt'>>;

export interface UserStore {
  count(): Promise<number>;
  countActiveAdmins(): Promise<number>;
  findById(id: string): Promise<UserRecord | null>;
  /** Usernames are stored lower-case; lookups are case-insensitive. */
  findByUsername(username: string): Promise<UserRecord | null>;
  list(): Promise<UserRecord[]>;
  create(user: NewUser): Promise<UserRecord>;
  update(id: string, patch: UserPatch): Promise<UserRecord | null>;
}

type Row = Awaited<ReturnType<PrismaClient['user']['findFirst']>>;

function toRecord(row: NonNullable<Row>): UserRecord {
  return { ...row, role: row.role as Role, permissions: row.permissions as Permission[] };
}

export function prismaUserStore(prisma: PrismaClient): UserStore {
  return {
    count: () => prisma.user.count(),
    countActiveAdmins: () => prisma.user.count({ where: { role: 'admin', disabled: false } }),
    async findById(id) {
      const row = await prisma.user.findUnique({ where: { id } });
      return row ? toRecord(row) : null;
    },
    async findByUsername(username) {
      const row = await prisma.user.findUnique({ where: { username: username.toLowerCase() } });
      return row ? toRecord(row) : null;
    },
    async list() {
      return (await prisma.user.findMany({ orderBy: { username: 'asc' } })).map(toRecord);
    },
    async create(user) {
      return toRecord(await prisma.user.create({ data: { ...user, username: user.username.toLowerCase() } }));
    },
    async update(id, patch) {
      const res = await prisma.user.updateMany({ where: { id }, data: patch });
      if (res.count === 0) return null;
      const row = await prisma.user.findUnique({ where: { id } });
      return row ? toRecord(row) : null;
    },
  };
}
