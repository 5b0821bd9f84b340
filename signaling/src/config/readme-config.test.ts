import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES } from './config.ts';

const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
const table = readme.slice(readme.indexOf('## Configuration'), readme.indexOf('## Production notes'));

describe('README configuration table', () => {
  it.each([...CONFIG_VARIABLES])('documents %s', (name) => {
    expect(table).toContain(`\`${name}\``);
  });
});
