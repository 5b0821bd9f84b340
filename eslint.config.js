import tseslint from 'typescript-eslint';
import svelte from 'eslint-plugin-svelte';
import { builtinModules } from 'node:module';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];
const apps = ['@guruconnect/signaling', '@guruconnect/agent', '@guruconnect/viewer-app', '@guruconnect/test'];
const appImport = (self) =>
  apps
    .filter((a) => a !== self)
    .flatMap((a) => [a, `${a}/*`])
    .concat(['**/signaling/src/**', '**/agent/src/**', '**/viewer-app/src/**'].filter((p) => !p.includes(self.split('/')[1])));

// no-restricted-imports does not look at `import()`: the same bans for dynamic imports of a literal specifier.
const escapeRe = (s) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
const dynamicImportBan = (specifiers, message) => ({
  selector: `ImportExpression[source.value=/^(${specifiers.map(escapeRe).join('|')})(\\/|$)/]`,
  message,
});

export default tseslint.config(
  { ignores: ['**/node_modules/**', 'signaling/src/db/generated/**', '**/dist/**', 'data/**', 'test-artifacts/**', 'viewer-app/.svelte-kit/**'] },
  ...tseslint.configs.recommended,
  ...svelte.configs.recommended,
  { files: ['**/*.svelte', '**/*.svelte.ts'], languageOptions: { parserOptions: { parser: tseslint.parser, extraFileExtensions: ['.svelte'] } } },
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-properties': ['error', { object: 'process', property: 'env', message: 'Read the environment only in config.ts / main.ts and pass a frozen Config down.' }],
    },
  },
  {
    files: ['shared/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: nodeBuiltins.map((name) => ({ name, message: 'shared is browser-safe: no Node built-ins.' })),
        patterns: [{ group: apps.flatMap((a) => [a, `${a}/*`]).concat(['**/signaling/**', '**/agent/**', '**/viewer-app/**', '**/test/**']), message: 'shared imports no app package.' }],
      }],
      'no-restricted-globals': ['error', { name: 'Buffer', message: 'shared is browser-safe: use Uint8Array.' }, { name: 'process', message: 'shared is browser-safe.' }],
      'no-restricted-syntax': ['error', dynamicImportBan(nodeBuiltins, 'shared is browser-safe: no Node built-ins.'), dynamicImportBan(apps, 'shared imports no app package.')],
    },
  },
  ...['signaling', 'agent', 'viewer-app'].map((pkg) => ({
    files: [`${pkg}/**/*.ts`, `${pkg}/**/*.svelte`],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: appImport(`@guruconnect/${pkg}`), message: 'Apps never import each other; share through @guruconnect/shared.' }] }],
      'no-restricted-syntax': ['error', dynamicImportBan(apps.filter((a) => a !== `@guruconnect/${pkg}`), 'Apps never import each other; share through @guruconnect/shared.')],
    },
  })),
  {
    // Entry points, the config parser, CLIs, tests and scripts may read the environment.
    files: ['**/main.ts', '**/config.ts', '**/cli/**', '**/*.test.ts', 'test/**', 'scripts/**', '**/test-database.ts', '*.config.*', '.ci/**'],
    rules: { 'no-restricted-properties': 'off' },
  },
);
