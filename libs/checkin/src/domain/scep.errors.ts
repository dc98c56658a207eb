export type ScepRefusal =
  'ENROLLMENT.SCEP_OPERATION_UNSUPPORTED' | 'ENROLLMENT.SCEP_MESSAGE_UNREADABLE';

/**
 * A SCEP request that cannot be answered with a CertRep (an operation this CA does not offer, a
 * message that is not there or not base64); devices get a 400 naming the code. Requests that can
 * be answered are answered with a CertRep FAILURE instead.
 */
export class ScepRequestError extends Error {
  constructor(
    readonly code: ScepRefusal,
    message: string,
  ) {
    super(message);
  }
}
