export const CHECKIN_SETTINGS = Symbol('CHECKIN_SETTINGS');

export interface CheckinSettings {
  publicUrl: string;
  pushTopic: string;
  organization: string;
  requestTimeoutMs: number;
  maxBodyBytes: number;
  caCertificatePath: string;
  caPrivateKeyPath: string;
}
