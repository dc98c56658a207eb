export {
  CertificateAuthority,
  createCertificateAuthority,
  loadOrCreateCertificateAuthority,
} from './certificate-authority.js';
export type {
  CertificateAuthorityMaterial,
  CreateCertificateAuthorityOptions,
  DeviceIdentity,
  IssueCertificateOptions,
  IssueDeviceIdentityOptions,
  IssuedCertificate,
} from './certificate-authority.js';
export { fingerprintOf } from './certificate.js';
export type { CertificationRequest } from './certification-request.js';
export type { ContentCipherName } from './cms-algorithms.js';
export { deviceProofOf, identifyDevice } from './device-proof.js';
export type { DeviceProof } from './device-proof.js';
export { IDENTITY_ERROR_CODES, IdentityError } from './identity.errors.js';
export type { IdentityErrorCode } from './identity.errors.js';
export { exportPkcs12, importPkcs12 } from './pkcs12.js';
export type { ExportPkcs12Options, IdentityPem } from './pkcs12.js';
export { RequestSigner } from './request-signer.js';
export type { RequestSignerOptions } from './request-signer.js';
export { SignatureVerifier } from './signature-verifier.js';
export type { SignatureVerifierOptions, VerifiedIdentity } from './signature-verifier.js';
export { buildPkcsReq, readCaCertificates, readCertRep } from './scep-client.js';
export type { CertRep, PkcsReqMessage, PkcsReqOptions } from './scep-client.js';
export type { FailInfo } from './scep-message.js';
export { SCEP_CA_CAPABILITIES, ScepServer } from './scep-server.js';
export type { CertRepAddress, PkcsReq, PkiOperation } from './scep-server.js';
export { encodeName } from './x500-name.js';
export type { NameAttributes } from './x500-name.js';
