// jest's node environment, plus one duty at the end of each test file: remove the temporary
// folders the file made through test/support/workdir.ts. It runs after every afterAll hook of
// the file, so nothing still in use is removed. (Process exit hooks cannot do this: jest ends
// its workers without running them.)
import { rmSync } from 'node:fs';
import { TestEnvironment } from 'jest-environment-node';

export default class CleanupEnvironment extends TestEnvironment {
  async teardown() {
    for (const dir of this.global.__testWorkdirs ?? []) rmSync(dir, { recursive: true, force: true });
    await super.teardown();
  }
}
