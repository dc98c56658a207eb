import {
  inspectWifiPayloads,
  isProtocolError,
  parseProfile,
  type ConfigurationProfile,
  type WifiEapInspection,
  type WifiPayloadInspection,
} from '@turnaround/protocol';

/** Rules whose breach leaves the device offline in Setup Assistant or fails the payload. */
export const WIFI_VIOLATION_RULES = [
  'wifi.profile-unreadable',
  'wifi.profile-encrypted',
  'wifi.no-payload',
  'wifi.malformed-key',
  'wifi.network-unnamed',
  'wifi.auto-join-off',
  'wifi.unknown-encryption-type',
  'wifi.password-missing',
  'wifi.enterprise-credentials-missing',
  'wifi.one-time-password',
  'wifi.certificate-not-included',
  'wifi.abfu.requires-app-preservation',
  'wifi.abfu.more-than-one',
  'wifi.abfu.eap',
  'wifi.abfu.hotspot',
  'wifi.abfu.qos-marking',
  'wifi.abfu.proxy',
] as const;

/** Findings that may still work, depending on the network or the devices: shown, not refused. */
export const WIFI_WARNING_RULES = [
  'wifi.captive-bypass',
  'wifi.eap-server-trust',
  'wifi.eap-sim',
  'wifi.abfu.visionos-only',
] as const;

export type WifiViolationRule = (typeof WIFI_VIOLATION_RULES)[number];
export type WifiWarningRule = (typeof WIFI_WARNING_RULES)[number];

/** One finding; `message` names the network and says what to change. */
export interface WifiFinding<Rule extends string> {
  rule: Rule;
  message: string;
  /** The Wi-Fi payload the finding is about; absent for findings about the whole profile. */
  payloadIdentifier?: string;
}

export interface ReturnToServiceWifiOptions {
  /** The configuration runs Return to Service with app preservation (bootstrap token sent). */
  preserveApps: boolean;
  /**
   * Platforms the configuration may reach (`ios`, `ipados`, `tvos`, `visionos`); absent when
   * unknown, which counts as "any".
   */
  platforms?: readonly string[];
}

export interface ReturnToServiceWifiCheck {
  /** Refuse the configuration when this is not empty. */
  violations: WifiFinding<WifiViolationRule>[];
  warnings: WifiFinding<WifiWarningRule>[];
  /** A Wi-Fi payload sets AllowJoinBeforeFirstUnlock: reinstall the profile in every cycle. */
  allowJoinBeforeFirstUnlock: boolean;
}

// EncryptionType's rangelist in com.apple.wifi.managed.yaml; absent means Any.
const ENCRYPTION_TYPES = ['WEP', 'WPA', 'WPA2', 'WPA3', 'Any', 'None'];
// Payloads that carry a private key, so the device can authenticate with them (EAP-TLS).
const IDENTITY_PAYLOAD_TYPES = new Set([
  'com.apple.security.pkcs12',
  'com.apple.security.scep',
  'com.apple.security.acme',
]);
const EAP_TLS = 13;
// EAP-SIM and EAP-AKA take their credentials from the SIM card.
const EAP_SIM_TYPES = new Set([18, 23]);

type Findings = Pick<ReturnToServiceWifiCheck, 'violations' | 'warnings'>;

function networkName(payload: WifiPayloadInspection): string {
  const name = payload.ssid ?? payload.domainName;

  return name === undefined || name === ''
    ? `Wi-Fi payload ${payload.payloadIdentifier}`
    : `Wi-Fi network ${JSON.stringify(name)}`;
}

function readProfile(
  profile: ConfigurationProfile | Uint8Array,
): ConfigurationProfile | WifiFinding<WifiViolationRule> {
  if (!(profile instanceof Uint8Array)) return profile;

  try {
    return parseProfile(profile);
  } catch (error) {
    if (!isProtocolError(error)) throw error;

    return {
      rule: 'wifi.profile-unreadable',
      message: `The Wi-Fi profile is not a readable configuration profile: ${error.message}`,
    };
  }
}

/**
 * Checks that the Wi-Fi profile of a Return to Service configuration brings the device online
 * with nobody there (B03): at least one Wi-Fi payload; every payload joins by itself (auto-join,
 * the password of an encrypted personal network, the credentials or identity of an enterprise
 * network inside the profile, every referenced certificate included); and, when a payload sets
 * `AllowJoinBeforeFirstUnlock`, Apple's six conditions for it (protocol digest §11), without which
 * the device refuses the payload.
 *
 * A profile that cannot be parsed is a `wifi.profile-unreadable` violation, not an exception.
 * Networks from other profiles on the device (one that also sets the flag) are not seen here.
 */
export function checkReturnToServiceWifi(
  profile: ConfigurationProfile | Uint8Array,
  options: ReturnToServiceWifiOptions,
): ReturnToServiceWifiCheck {
  const findings: Findings = { violations: [], warnings: [] };
  const parsed = readProfile(profile);

  if (!('payloads' in parsed)) {
    return { violations: [parsed], warnings: [], allowJoinBeforeFirstUnlock: false };
  }
  if (parsed.isEncrypted) {
    // It is encrypted to the identity of the device as enrolled; the erase replaces that identity.
    findings.violations.push({
      rule: 'wifi.profile-encrypted',
      message:
        'The Wi-Fi profile is encrypted (EncryptedPayloadContent); after the erase the device ' +
        'can no longer decrypt it. Send it unencrypted (a signed profile is fine).',
    });

    return { ...findings, allowJoinBeforeFirstUnlock: false };
  }

  const payloads = inspectWifiPayloads(parsed);

  if (payloads.length === 0) {
    findings.violations.push({
      rule: 'wifi.no-payload',
      message:
        'The Wi-Fi profile has no Wi-Fi payload (com.apple.wifi.managed); after the erase the ' +
        'device would have no network to join. Add the network the devices use.',
    });
  }
  for (const payload of payloads) checkUnattendedJoin(payload, findings);

  const flagged = payloads.filter((payload) => payload.allowJoinBeforeFirstUnlock === true);

  if (flagged.length > 0) checkJoinBeforeFirstUnlock(flagged, options, findings);

  return { ...findings, allowJoinBeforeFirstUnlock: flagged.length > 0 };
}

function checkUnattendedJoin(payload: WifiPayloadInspection, findings: Findings): void {
  const name = networkName(payload);
  const violation = (rule: WifiViolationRule, message: string): void => {
    findings.violations.push({ rule, message, payloadIdentifier: payload.payloadIdentifier });
  };

  if (payload.mistypedKeys.length > 0) {
    const verb = payload.mistypedKeys.length === 1 ? 'has' : 'have';

    violation(
      'wifi.malformed-key',
      `${name}: ${payload.mistypedKeys.join(', ')} ${verb} ` +
        "a type other than Apple's schema (com.apple.wifi.managed); the device may refuse the " +
        'payload or ignore the value. Write each key with its documented type.',
    );
  }
  if (payload.ssid === undefined && payload.domainName === undefined) {
    violation(
      'wifi.network-unnamed',
      `${name} has neither SSID_STR nor DomainName, so the device cannot tell which network ` +
        'to join. Add the SSID_STR of the network.',
    );
  }
  if (payload.autoJoin === false) {
    violation(
      'wifi.auto-join-off',
      `${name} sets AutoJoin to false, so the device waits for someone to pick the network. ` +
        'Remove AutoJoin or set it to true.',
    );
  }

  const missing = [payload.identityCertificate, ...(payload.eap?.trustAnchors ?? [])]
    .filter((reference) => reference !== undefined && !reference.includedInProfile)
    .map((reference) => reference?.uuid ?? '');

  if (missing.length > 0) {
    violation(
      'wifi.certificate-not-included',
      `${name} refers to certificate payload${missing.length === 1 ? '' : 's'} ` +
        `${missing.join(', ')} that the profile does not contain; after the erase no other ` +
        'profile is installed yet. Put the certificate payloads in the Wi-Fi profile.',
    );
  }
  if (payload.hasEAPClientConfiguration) {
    // A mistyped EAPClientConfiguration is already a malformed-key violation.
    if (payload.eap !== undefined) checkEnterpriseJoin(payload, payload.eap, name, findings);
  } else {
    checkPersonalJoin(payload, name, violation);
  }
  if (payload.captiveBypass === true) {
    findings.warnings.push({
      rule: 'wifi.captive-bypass',
      message:
        `${name} sets CaptiveBypass, which suggests a captive portal. Nobody can sign in to a ` +
        'portal during Return to Service: the network must let the device reach Apple and this ' +
        'server without one.',
      payloadIdentifier: payload.payloadIdentifier,
    });
  }
}

function checkPersonalJoin(
  payload: WifiPayloadInspection,
  name: string,
  violation: (rule: WifiViolationRule, message: string) => void,
): void {
  const encryption = payload.encryptionType ?? 'Any';

  if (!ENCRYPTION_TYPES.includes(encryption)) {
    violation(
      'wifi.unknown-encryption-type',
      `${name} has EncryptionType ${JSON.stringify(encryption)}, which Apple's schema does not ` +
        `list. Use one of ${ENCRYPTION_TYPES.join(', ')}.`,
    );

    return;
  }
  if (encryption !== 'None' && !payload.hasPassword) {
    const byDefault = payload.encryptionType === undefined ? ', the default' : '';

    violation(
      'wifi.password-missing',
      `${name} is an encrypted network (EncryptionType ${encryption}${byDefault}) ` +
        'without a Password, so the device would ask for one. Add the Password, or set ' +
        'EncryptionType to None if the network is open.',
    );
  }
}

function checkEnterpriseJoin(
  payload: WifiPayloadInspection,
  eap: WifiEapInspection,
  name: string,
  findings: Findings,
): void {
  const types = eap.acceptEAPTypes;
  const simOnly = types.length > 0 && types.every((type) => EAP_SIM_TYPES.has(type));
  const tlsOnly = types.length > 0 && types.every((type) => type === EAP_TLS);
  const identity = payload.identityCertificate;
  const hasIdentity =
    identity?.includedInProfile === true && IDENTITY_PAYLOAD_TYPES.has(identity.payloadType ?? '');
  // OneTimeUserPassword makes the device ask for the password at every join, stored or not.
  const hasCredentials = eap.hasStoredCredentials && !tlsOnly && eap.oneTimeUserPassword !== true;
  const warning = (rule: WifiWarningRule, message: string): void => {
    findings.warnings.push({ rule, message, payloadIdentifier: payload.payloadIdentifier });
  };

  if (!Object.hasOwn(eap.raw, 'AcceptEAPTypes')) {
    findings.violations.push({
      rule: 'wifi.malformed-key',
      message:
        `${name}: EAPClientConfiguration has no AcceptEAPTypes, which Apple's schema requires. ` +
        'List the EAP types the network uses (25 for PEAP, 13 for EAP-TLS, ...).',
      payloadIdentifier: payload.payloadIdentifier,
    });
  }
  if (simOnly) {
    warning(
      'wifi.eap-sim',
      `${name} authenticates with the SIM card (EAP-SIM/EAP-AKA): only devices with a SIM of ` +
        'that carrier can join it after the erase.',
    );

    return;
  }
  if (!hasIdentity && !hasCredentials) {
    findings.violations.push({
      rule:
        eap.oneTimeUserPassword === true && !tlsOnly
          ? 'wifi.one-time-password'
          : 'wifi.enterprise-credentials-missing',
      message: `${name} ${enterpriseGap(eap, tlsOnly, identity?.payloadType)}`,
      payloadIdentifier: payload.payloadIdentifier,
    });
  }

  const trustsServer =
    eap.trustAnchors.some((anchor) => anchor.includedInProfile) ||
    eap.tlsTrustedServerNames.length > 0 ||
    eap.hasTLSTrustedCertificates;

  if (!trustsServer) {
    warning(
      'wifi.eap-server-trust',
      `${name} names no trusted authentication server (PayloadCertificateAnchorUUID or ` +
        'TLSTrustedServerNames), so the device may ask a person to trust the server certificate. ' +
        'Add the server certificate to the profile and list it, or list the server names.',
    );
  }
}

function enterpriseGap(
  eap: WifiEapInspection,
  tlsOnly: boolean,
  identityType: string | undefined,
): string {
  const notIdentity =
    identityType !== undefined && !IDENTITY_PAYLOAD_TYPES.has(identityType)
      ? ` (PayloadCertificateUUID points at a ${identityType} payload, which holds no private key)`
      : '';

  if (tlsOnly) {
    return (
      `uses EAP-TLS but the profile holds no identity certificate for it${notIdentity}; the ` +
      'device would wait for a person. Add a PKCS #12, SCEP or ACME payload and reference it ' +
      'with PayloadCertificateUUID.'
    );
  }
  if (eap.oneTimeUserPassword === true) {
    return (
      'sets OneTimeUserPassword, so the device asks for the password at every join. Remove ' +
      'OneTimeUserPassword and store UserName and UserPassword, or use an identity certificate.'
    );
  }

  const absent = [
    eap.hasUserName ? undefined : 'UserName',
    eap.hasUserPassword ? undefined : 'UserPassword',
  ].filter((key) => key !== undefined);

  return (
    `uses enterprise authentication (EAPClientConfiguration) without ${absent.join(' and ')} ` +
    `and without an identity certificate in the profile${notIdentity}; after the erase the ` +
    'device would wait for a person to sign in. Add the credentials, or a PKCS #12, SCEP or ' +
    'ACME payload referenced by PayloadCertificateUUID.'
  );
}

function describeProxyType(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : `of type ${typeof value}`;
}

function checkJoinBeforeFirstUnlock(
  flagged: WifiPayloadInspection[],
  options: ReturnToServiceWifiOptions,
  findings: Findings,
): void {
  if (flagged.length > 1) {
    findings.violations.push({
      rule: 'wifi.abfu.more-than-one',
      message:
        `AllowJoinBeforeFirstUnlock is set on ${flagged.length} networks ` +
        `(${flagged.map(networkName).join(', ')}); the device accepts it on one network only. ` +
        'Keep it on one.',
    });
  }

  for (const payload of flagged) {
    const name = networkName(payload);
    const violation = (rule: WifiViolationRule, change: string): void => {
      findings.violations.push({
        rule,
        message: `${name} sets AllowJoinBeforeFirstUnlock ${change}`,
        payloadIdentifier: payload.payloadIdentifier,
      });
    };

    if (!options.preserveApps) {
      violation(
        'wifi.abfu.requires-app-preservation',
        'but the configuration does not preserve apps; the device takes the key only in Return ' +
          'to Service with app preservation. Turn app preservation on, or remove the key.',
      );
    }
    if (payload.hasEAPClientConfiguration) {
      violation(
        'wifi.abfu.eap',
        'together with EAPClientConfiguration, so the device refuses the payload. Use a ' +
          'personal (password) network for it, or remove the key.',
      );
    }
    if (payload.isHotspot === true || payload.mistypedKeys.includes('IsHotspot')) {
      violation(
        'wifi.abfu.hotspot',
        'together with IsHotspot, so the device refuses the payload. Remove IsHotspot or set it ' +
          'to false.',
      );
    }
    if (payload.hasQoSMarkingPolicy) {
      violation(
        'wifi.abfu.qos-marking',
        'together with QoSMarkingPolicy, so the device refuses the payload. Remove ' +
          'QoSMarkingPolicy.',
      );
    }
    if (
      (payload.proxyType !== undefined && payload.proxyType !== 'None') ||
      payload.mistypedKeys.includes('ProxyType')
    ) {
      violation(
        'wifi.abfu.proxy',
        `with ProxyType ${describeProxyType(payload.raw['ProxyType'])}, so the ` +
          'device refuses the payload. Remove ProxyType or set it to None.',
      );
    }
  }

  const platforms = options.platforms?.map((platform) => platform.toLowerCase());

  if (platforms === undefined || platforms.some((platform) => platform !== 'visionos')) {
    findings.warnings.push({
      rule: 'wifi.abfu.visionos-only',
      message:
        `AllowJoinBeforeFirstUnlock (on ${flagged.map(networkName).join(', ')}) exists on ` +
        'visionOS 26 only; on iPhone, iPad and Apple TV it has no effect.',
    });
  }
}
