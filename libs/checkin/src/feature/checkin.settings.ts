export const CHECKIN_SETTINGS = Symbol('CHECKIN_SETTINGS');

export interface CheckinSettings {
  publicUrl: string;
  pushTopic: string;
  organization: string;
  requestTimeoutMs: number;
  maxBodyBytes: number;
  caCertificatePath: string;
  caPrivateKeyPath: string;
  /** The proxy's client-certificate header, when one is configured (lower case). */
  clientCertificateHeader?: string;
}
