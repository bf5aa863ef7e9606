import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';

/** What a person types first: `--version`, and the version on the start-up line. */
const root = new URL('../../../', import.meta.url);
const { version } = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { version: string };
const run = (...args: string[]) =>
  execFileSync(process.execPath, ['--disable-warning=ExperimentalWarning', 'src/main.ts', ...args], {
    cwd: root,
    encoding: 'utf8',
  });

describe('the operator command', () => {
  it('prints its version with --version and exits 0', () => {
    expect(run('--version')).toBe(`athenz-rbac-operator ${version}\n`);
  });

  it('lists its flags with --help', () => {
    expect(run('--help')).toMatch(/--zms-url\s/);
  });
});
