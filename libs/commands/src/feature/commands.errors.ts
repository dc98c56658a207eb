// Codes follow the device-facing mapping in @turnaround/platform: IDENTITY.* and ENROLLMENT.* are
// answered 400 (never 401), DEPENDENCY.* 503.

export class UnknownIdentityError extends Error {
  readonly code = 'IDENTITY.UNKNOWN';

  constructor() {
    super('no enrollment is known for this identity certificate');
  }
}

export class DeviceMismatchError extends Error {
  readonly code = 'IDENTITY.DEVICE_MISMATCH';

  constructor() {
    super('the report names another device than the identity that signed it');
  }
}

export class NotEnrolledError extends Error {
  readonly code = 'ENROLLMENT.NOT_ENROLLED';

  constructor() {
    super('this identity has not completed an enrollment (no TokenUpdate yet)');
  }
}

export class CheckinUnavailableError extends Error {
  readonly code = 'DEPENDENCY.CHECKIN_UNAVAILABLE';

  constructor(cause: unknown) {
    super('the check-in service could not resolve the identity', { cause });
  }
}

export class CaUnavailableError extends Error {
  readonly code = 'DEPENDENCY.CA_UNAVAILABLE';

  constructor(path: string) {
    super(`the CA certificate ${path} does not exist yet`);
  }
}

/**
 * An erase that keeps the device's apps cannot go out without its bootstrap token: sent without
 * it the device would wipe them. The device is asked to come back (503, Retry-After) instead.
 */
export class EscrowUnavailableError extends Error {
  readonly code = 'DEPENDENCY.ESCROW_UNAVAILABLE';

  constructor(
    readonly retryAfterSeconds: number,
    escrowCode: string,
  ) {
    // Only the code of what went wrong: escrow's message is not ours to pass on.
    super(`escrow could not hand out the bootstrap token (${escrowCode})`);
  }
}

/**
 * An erase that returns the device to service cannot go out without its Wi-Fi and enrollment
 * profiles: without them the device may stay offline in Setup Assistant. Nor can an InstallProfile
 * without its profile. The device is asked to come back (503, Retry-After) instead.
 */
export class ProvisioningUnavailableError extends Error {
  readonly code = 'DEPENDENCY.PROVISIONING_UNAVAILABLE';

  constructor(
    readonly retryAfterSeconds: number,
    provisioningCode: string,
  ) {
    // Only the code: provisioning's message may name what it was rendering.
    super(`provisioning could not render the profiles the command needs (${provisioningCode})`);
  }
}
