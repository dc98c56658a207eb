/** Stable codes the admin API maps to HTTP in one place (feature/admin-exception.filter.ts). */
export type ProvisioningErrorCode =
  | 'CONFIGURATION.NOT_FOUND'
  | 'CONFIGURATION.INVALID'
  | 'CONFIGURATION.NAME_TAKEN'
  | 'DEVICE.NOT_FOUND'
  | 'DEVICE.NOT_ENROLLED'
  | 'DEVICE.USER_ENROLLMENT'
  | 'DEVICE.OS_TOO_OLD'
  | 'DEVICE.RTS_UNSUPPORTED'
  | 'DEVICE.OS_UNSUPPORTED'
  | 'ESCROW.UNAVAILABLE'
  | 'CYCLE.NOT_FOUND'
  | 'CYCLE.ALREADY_ACTIVE'
  | 'CYCLE.ENROLLMENT_PROFILE_UNAVAILABLE'
  | 'CYCLE.NOT_ERASING'
  | 'CYCLE.PROFILE_CHANGED'
  | 'REQUEST.INVALID';

export class ProvisioningError extends Error {
  constructor(
    readonly code: ProvisioningErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}
