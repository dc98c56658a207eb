export const PROVISIONING_SETTINGS = Symbol('PROVISIONING_SETTINGS');

export interface ProvisioningSettings {
  releaseTimeoutSeconds: number;
  phaseDeadlineSeconds: number;
  requestTimeoutMs: number;
  apiKey: string;
}
