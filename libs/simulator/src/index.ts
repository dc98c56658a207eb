export { AdminClient, PHASES, TRIGGER_BATCH } from './admin-client.js';
export type {
  CycleView,
  DeviceSummary,
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
} from './command-responder.js';
export type {
  CommandAnswer,
  CommandEffect,
  CommandResponderOptions,
  DeviceView,
  ErasePlan,
  NetworkVerdict,
} from './command-responder.js';
export { DEFAULT_TIMING, SimulatedDevice } from './device.js';
export type {
  CycleClock,
  DeviceFailure,
  DeviceState,
  DeviceTiming,
  SimulatedDeviceOptions,
} from './device.js';
export { createHardware, PLATFORMS } from './hardware.js';
export type { Hardware, Platform } from './hardware.js';
export { createLog, silentLog } from './log.js';
export type { LogLevel, SimulatorLog } from './log.js';
export { DeviceHttp, MdmClient } from './mdm-client.js';
export type { FetchLike, RequestCounter } from './mdm-client.js';
export { devicePhases, runSimulation } from './orchestrator.js';
export type {
  CycleResult,
  DeviceCycleResult,
  EnrollmentResult,
  Outcome,
  ProgressSink,
  SimulationOptions,
  SimulationResult,
} from './orchestrator.js';
export { StderrProgress } from './progress.js';
export { percentile, percentiles, renderJson, renderTable, summarize } from './report.js';
export type { CycleSummary, FailureLine, Percentiles, SimulationSummary } from './report.js';
export {
  buildRestrictionsProfile,
  buildSimulatorConfiguration,
  buildWifiProfile,
} from './rts-profiles.js';
export { EXIT, simulate } from './simulate.js';
export type { SimulatorIo } from './simulate.js';
export { DeviceHttpError, SimulatorError } from './simulator.errors.js';
export type { SimulatorErrorCode } from './simulator.errors.js';
