import { spawnSync } from 'node:child_process';

export const HAS_OPENSSL = spawnSync('openssl', ['version']).status === 0;

/** An interoperability test against the openssl executable, skipped with the reason without it. */
export function withOpenssl(name: string, test: () => Promise<void> | void): void {
  if (HAS_OPENSSL) {
    it(name, async () => {
      await test();
    });
  } else {
    it.skip(`${name} (skipped: no openssl executable on PATH)`, () => undefined);
  }
}
