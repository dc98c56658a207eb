/** Stable codes of the simulator's own errors. */
export type SimulatorErrorCode =
  | 'SIMULATOR.USAGE'
  | 'SIMULATOR.NO_API_KEY'
  | 'SIMULATOR.SERVICE_UNREACHABLE'
  | 'SIMULATOR.ADMIN_API'
  | 'SIMULATOR.DEVICE_HTTP';

export class SimulatorError extends Error {
  constructor(
    readonly code: SimulatorErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'SimulatorError';
  }
}

/** A device request that kept failing after every retry. */
export class DeviceHttpError extends SimulatorError {
  constructor(
    readonly what: string,
    readonly status: number | undefined,
    readonly bodyText: string,
    readonly attempts: number,
    options?: { cause?: unknown },
  ) {
    super(
      'SIMULATOR.DEVICE_HTTP',
      status === undefined
        ? `${what}: no answer after ${attempts} attempt(s) (${bodyText})`
        : `${what}: HTTP ${status} after ${attempts} attempt(s): ${bodyText || '(empty body)'}`,
      options,
    );
  }
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export function isAbort(error: unknown, signal: AbortSignal): boolean {
  return signal.aborted && (error === signal.reason || (error as Error)?.name === 'AbortError');
}
