// `npm run setup`: create .env with a freshly generated JWT_SECRET when there is none.
// Never overwrites an existing secret. The server itself stays strict.
import { randomBytes } from 'node:crypto';
import { appendFileSync, chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';

const file = process.env.GURU_ENV_FILE ?? '.env';
const secretLine = () => `JWT_SECRET=${randomBytes(48).toString('base64url')}\n`;

if (!existsSync(file)) {
  writeFileSync(file, `# Created by npm run setup. See .env.example for every variable.\n${secretLine()}`, { mode: 0o600 });
  console.log(`setup: created ${file} with a new JWT_SECRET`);
} else if (!/^[ \t]*JWT_SECRET[ \t]*=[ \t]*\S/m.test(readFileSync(file, 'utf8'))) {
  appendFileSync(file, secretLine());
  chmodSync(file, 0o600);
  console.log(`setup: added a new JWT_SECRET to ${file}`);
} else {
  console.log(`setup: ${file} already has a JWT_SECRET; left unchanged`);
}
