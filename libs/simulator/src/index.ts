export {
  ActivationLock,
  newBypassCode,
  UNLOCK_PATH,
  UNLOCK_URL_VARIABLE,
  UnlockEndpoint,
} from './activation-lock.js';
export type { UnlockEndpointCounts, UnlockVerdict } from './activation-lock.js';
export { AdminClient, PHASES, TRIGGER_BATCH } from './admin-client.js';
export type {
  AssignmentResult,
  CycleView,
  DeviceSummary,
  OsPolicyInput,
  PhaseDurations,
  PhaseName,
  RtsConfigurationInput,
  TriggerResult,
} from './admin-client.js';
export { DEFAULT_URL, parseArgs, resolveApiKey, USAGE, UsageError } from './cli.js';
export type { ApiKeySources, CliCommand, CliOptions } from './cli.js';
export {
  checkMdmProfileData,
  checkWifiProfileData,
  CommandResponder,
  isDoubleEncodedProfile,
  joinBeforeFirstUnlockProblem,
  planReturnToService,
} from './command-responder.js';
export type {
  CommandAnswer,
  CommandEffect,
  CommandResponderOptions,
  DeviceView,
  ErasePlan,
  InstallKind,
  NetworkVerdict,
} from './command-responder.js';
export { DeviceKeyPool, freshDeviceKeys } from './device-keys.js';
export type { DeviceKeySource } from './device-keys.js';
export {
  DEFAULT_TIMING,
  readReturnToServiceAnswer,
  readSoftwareUpdateRequired,
  SimulatedDevice,
  supportsAppPreservation,
  triggerDelayMs,
} from './device.js';
export type {
  CycleClock,
  DeviceFailure,
  DeviceState,
  DeviceStats,
  DeviceTiming,
  DeviceTrigger,
  ReturnToServiceRequest,
  SimulatedDeviceOptions,
  TriggerTiming,
} from './device.js';
export { buildOf, createHardware, newestRelease, PLATFORMS } from './hardware.js';
export type { Hardware, HardwareOptions, OsRelease, Platform } from './hardware.js';
export { machineInfoOf, MachineInfoSigner, signedMachineInfo } from './machine-info.js';
export { createLog, silentLog } from './log.js';
export type { LogLevel, SimulatorLog } from './log.js';
export { DeviceHttp, MdmClient } from './mdm-client.js';
export type { DeviceAnswer, FetchLike, RequestCounter } from './mdm-client.js';
export {
  CYCLE_TRIGGERS,
  devicePhases,
  runSimulation,
  simulationConfiguration,
} from './orchestrator.js';
export type {
  CycleResult,
  CycleTrigger,
  DeviceCycleResult,
  EnrollmentResult,
  Outcome,
  ProgressSink,
  SimulationOptions,
  SimulationResult,
} from './orchestrator.js';
export { StderrProgress } from './progress.js';
export { percentile, percentiles, renderJson, renderTable, summarize } from './report.js';
export type {
  CycleSummary,
  FailureLine,
  Percentiles,
  RtsDetails,
  SimulationSummary,
} from './report.js';
export {
  buildRestrictionsProfile,
  buildSimulatorConfiguration,
  buildWifiProfile,
} from './rts-profiles.js';
export type { SimulatorConfigurationOptions, WifiNetwork } from './rts-profiles.js';
export { enrollScepIdentity } from './scep-enrollment.js';
export type { ScepExchange } from './scep-enrollment.js';
export { EXIT, simulate } from './simulate.js';
export type { SimulatorIo } from './simulate.js';
export { DeviceHttpError, SimulatorError } from './simulator.errors.js';
export type { SimulatorErrorCode } from './simulator.errors.js';
