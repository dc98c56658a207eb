/**
 * `@turnaround/protocol`: the Apple MDM wire format.
 *
 * - Plist codec: {@link decodePlist}, {@link encodePlistXml}, {@link encodePlistBinary}.
 * - Check-in messages, channel resolution, command reports and tolerant result extraction.
 * - Command builders and the command envelope.
 * - Configuration profiles: parsing (XML, binary, CMS-signed), Wi-Fi inspection, enrollment
 *   profiles.
 * - Automated Device Enrollment: Device Assignment service JSON and the device's MachineInfo.
 * - Declarative management status reports.
 *
 * Naming: typed fields are camelCase renderings of Apple's key names with acronyms in lower case
 * (`UDID` → `udid`, `EnrollmentID` → `enrollmentId`, `OSVersion` → `osVersion`), except where the
 * field name was fixed by the API brief (`payloadUUID`, `iTunesStoreID`, `manifestURL`). Every
 * parsed message also keeps the decoded dictionary under Apple's names (`raw` / `payload`), and
 * builders return dictionaries keyed by Apple's names. JSON readers do the same with Apple's
 * snake_case and kebab-case keys (`configuration_web_url` → `configurationWebUrl`,
 * `server-token` → `serverToken`).
 *
 * Errors: every function throws {@link ProtocolError} (or its subclass {@link PlistError}) with a
 * stable `code` from {@link PROTOCOL_ERROR_CODES}; nothing else is thrown for bad input.
 */
export {
  PLIST_ERROR_CODES,
  PROTOCOL_ERROR_CODES,
  PlistError,
  ProtocolError,
  isProtocolError,
  type PlistErrorCode,
  type ProtocolErrorCode,
} from './protocol.errors.js';
export {
  DEFAULT_PLIST_LIMITS,
  isPlistDict,
  type PlistDict,
  type PlistLimits,
  type PlistValue,
} from './plist-types.js';
export { decodePlist, encodePlistBinary, encodePlistXml } from './plist-codec.js';
export {
  CHECKIN_MESSAGE_TYPES,
  checkInFromPlist,
  parseCheckIn,
  type AuthenticateMessage,
  type BootstrapTokenChange,
  type CheckInCommon,
  type CheckInMessage,
  type CheckInMessageType,
  type CheckOutMessage,
  type DeclarativeManagementMessage,
  type GetBootstrapTokenMessage,
  type GetTokenMessage,
  type ReturnToServiceMessage,
  type SetBootstrapTokenMessage,
  type TokenUpdateMessage,
  type UserAuthenticateMessage,
} from './checkin.js';
export {
  SHARED_IPAD_USER_ID,
  resolveChannel,
  type ChannelIdentifiers,
  type EnrollmentType,
  type ResolvedChannel,
} from './channel.js';
export {
  REPORT_STATUSES,
  parseReport,
  reportFromPlist,
  type CommandReport,
  type ErrorChainItem,
  type ReportProblem,
  type ReportStatus,
} from './report.js';
export {
  extractDeviceInformation,
  extractManagedApplications,
  extractSecurityInfo,
  type ApplicationEntry,
  type DeviceInformation,
  type Extraction,
  type SecurityInfo,
  type UnreadableField,
} from './report-extract.js';
export {
  assertProfileBytes,
  buildActivationLockBypassCode,
  buildClearActivationLockBypassCode,
  buildDeviceConfigured,
  buildDeviceInformation,
  buildEraseDevice,
  buildInstallApplication,
  buildInstallProfile,
  buildInstalledApplicationList,
  buildManagedApplicationList,
  buildProfileList,
  buildRemoveProfile,
  buildReturnToServiceResponse,
  buildSecurityInfo,
  buildSettings,
  commandFromPlist,
  encodeCommand,
  parseCommand,
  type Command,
  type CommandEnvelope,
  type EraseDeviceOptions,
  type InstallApplicationOptions,
  type ObliterationBehavior,
  type ReturnToServiceOptions,
  type ReturnToServiceResponseOptions,
} from './commands.js';
export { unwrapCmsSignedData } from './cms.js';
export {
  WIFI_PAYLOAD_TYPE,
  inspectWifiPayloads,
  parseProfile,
  type CertificateReference,
  type ConfigurationProfile,
  type ProfilePayload,
  type WifiEapInspection,
  type WifiPayloadInspection,
} from './profiles.js';
export {
  ALL_ACCESS_RIGHTS,
  MDM_PAYLOAD_TYPE,
  PKCS12_PAYLOAD_TYPE,
  SERVER_CAPABILITIES,
  assertValidAccessRights,
  buildEnrollmentProfile,
  readEnrollmentProfile,
  type EnrollmentIdentity,
  type EnrollmentIdentityOptions,
  type EnrollmentProfileOptions,
  type EnrollmentProfileSettings,
  type ServerCapability,
} from './enrollment-profile.js';
export {
  SCEP_PAYLOAD_TYPE,
  type ScepPayloadOptions,
  type ScepPayloadSettings,
  type ScepSubject,
} from './scep-payload.js';
export {
  ADE_PROFILE_STATUSES,
  readAdeAccount,
  readAdeDeviceDetails,
  readAdeDeviceList,
  readAdeProfile,
  readAdeProfileAssignment,
  type AdeAccount,
  type AdeAccountUrl,
  type AdeDevice,
  type AdeDeviceDetail,
  type AdeDeviceDetails,
  type AdeDeviceList,
  type AdeProfile,
  type AdeProfileAssignment,
} from './ade.js';
export { readMachineInfo, type MachineInfo } from './machine-info.js';
export {
  DECLARATION_KINDS,
  readDeclarativeStatusReport,
  type DeclarationKind,
  type DeclarationKindSummary,
  type DeclarationStatus,
  type DeclarationsSummary,
  type DeclarativeClientCapabilities,
  type DeclarativeStatusError,
  type DeclarativeStatusReason,
  type DeclarativeStatusReport,
} from './ddm-status.js';
export type { JsonObject, JsonValue } from './json-access.js';
export {
  SOFTWARE_UPDATE_REQUIRED_CODE,
  buildSoftwareUpdateRequired,
  type SoftwareUpdateRequiredBody,
  type SoftwareUpdateRequiredOptions,
} from './commands.js';
export { checkCmsIntegrity, type CmsIntegrity } from './cms-integrity.js';
