import type { UserStore } from '../db/stores/user-store.ts';
import type { Logger } from '../logging/logger.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { generatePassword, type PasswordHasher } from './passwords.ts';

/**
 * First start with no users: create `admin` from BOOTSTRAP_ADMIN_PASSWORD, or generate a
 * strong password and print it once to the operator's console (never to the log).
 * No HTTP endpoint can do this (the CVE-2024-1709 class).
 */
export async function bootstrapAdmin(d: {
  users: UserStore;
  hasher: PasswordHasher;
  audit: AuditLog;
  logger: Logger;
  console: { print(line: string): void };
  password?: string;
}): Promise<boolean> {
  if ((await d.users.count()) > 0) return false;
  const generated = !d.password;
  const password = d.password ?? generatePassword();
  try {
    await d.users.create({ username: 'admin', displayName: 'Administrator', passwordHash: await d.hasher.hash(password), role: 'admin', permissions: [] });
  } catch (err) {
    // Another node bootstrapped at the same moment.
    if ((await d.users.count()) > 0) return false;
    throw err;
  }
  await d.audit.record({ type: 'user_created', actor: 'bootstrap', target: 'user:admin', details: { username: 'admin', role: 'admin', source: generated ? 'generated' : 'environment' } });
  d.logger.info({ source: generated ? 'generated' : 'environment' }, 'bootstrap admin created');
  if (generated) {
    d.console.print('');
    d.console.print('  GuruConnect: first start, created the admin account.');
    d.console.print(`    username: admin`);
    d.console.print(`    password: ${password}`);
    d.console.print('  This password is shown once. Change it after signing in.');
    d.console.print('');
  }
  return true;
}
