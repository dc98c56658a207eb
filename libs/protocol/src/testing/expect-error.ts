import { ProtocolError, type ProtocolErrorCode } from '../protocol.errors.js';

/** Runs `fn`, asserts it throws a ProtocolError with `code`, and returns that error. */
export function expectProtocolError(fn: () => unknown, code: ProtocolErrorCode): ProtocolError {
  let thrown: unknown;

  try {
    fn();
  } catch (error) {
    thrown = error;
  }

  if (!(thrown instanceof ProtocolError)) {
    throw new Error(`expected ProtocolError ${code}, got ${String(thrown)}`, { cause: thrown });
  }
  expect(thrown.code).toBe(code);
  expect(thrown.message.length).toBeGreaterThan(10);

  return thrown;
}
