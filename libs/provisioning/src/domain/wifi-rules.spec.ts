import { readFileSync } from 'node:fs';
import path from 'node:path';

import { encodePlistXml, parseProfile, type PlistDict } from '@turnaround/protocol';

import {
  checkReturnToServiceWifi,
  WIFI_VIOLATION_RULES,
  WIFI_WARNING_RULES,
  type ReturnToServiceWifiCheck,
  type ReturnToServiceWifiOptions,
} from './wifi-rules.js';

const PASSWORD = 'correct-horse-battery';
const visionPreserving: ReturnToServiceWifiOptions = {
  preserveApps: true,
  platforms: ['visionos'],
};

/** A WPA2 personal network that joins by itself; `keys` override, `undefined` removes a key. */
function wifi(keys: Record<string, PlistDict[string] | undefined> = {}): PlistDict {
  const payload: Record<string, PlistDict[string] | undefined> = {
    PayloadType: 'com.apple.wifi.managed',
    PayloadIdentifier: 'com.example.wifi.devices',
    PayloadUUID: '6F0C1F40-1D4B-4A5E-9C1A-1A2B3C4D5E6F',
    SSID_STR: 'Devices',
    EncryptionType: 'WPA2',
    Password: PASSWORD,
    AutoJoin: true,
    ...keys,
  };

  return Object.fromEntries(
    Object.entries(payload).filter((entry): entry is [string, PlistDict[string]] => {
      return entry[1] !== undefined;
    }),
  );
}

function certificate(type: string, uuid: string): PlistDict {
  return {
    PayloadType: type,
    PayloadIdentifier: `com.example.cert.${uuid}`,
    PayloadUUID: uuid,
    PayloadContent: new Uint8Array([0x30, 0x82]),
  };
}

function profileBytes(...payloads: PlistDict[]): Uint8Array {
  return encodePlistXml({
    PayloadType: 'Configuration',
    PayloadIdentifier: 'com.example.rts-wifi',
    PayloadUUID: 'A1B2C3D4-0000-4000-8000-000000000001',
    PayloadContent: payloads,
  });
}

const seen = { violations: new Set<string>(), warnings: new Set<string>() };
const messages: string[] = [];

function check(
  payloads: PlistDict[],
  options: ReturnToServiceWifiOptions = visionPreserving,
): ReturnToServiceWifiCheck {
  return record(checkReturnToServiceWifi(parseProfile(profileBytes(...payloads)), options));
}

function record(result: ReturnToServiceWifiCheck): ReturnToServiceWifiCheck {
  for (const finding of result.violations) seen.violations.add(finding.rule);
  for (const finding of result.warnings) seen.warnings.add(finding.rule);
  messages.push(...[...result.violations, ...result.warnings].map((finding) => finding.message));

  return result;
}

const rules = (result: ReturnToServiceWifiCheck): string[] =>
  result.violations.map((violation) => violation.rule);
const warningRules = (result: ReturnToServiceWifiCheck): string[] =>
  result.warnings.map((warning) => warning.rule);

function fixture(name: string): Uint8Array {
  return readFileSync(path.resolve(process.cwd(), '../shared/fixtures/real/profile', name));
}

const eap = (keys: PlistDict): PlistDict => ({ AcceptEAPTypes: [25], ...keys });
const enterprise = (keys: Record<string, PlistDict[string] | undefined> = {}): PlistDict =>
  wifi({
    Password: undefined,
    EAPClientConfiguration: eap({
      UserName: 'device-enroll',
      UserPassword: PASSWORD,
      TLSTrustedServerNames: ['radius.example.test'],
    }),
    ...keys,
  });

describe('checkReturnToServiceWifi: the network joins with nobody there (B03)', () => {
  it('accepts a personal network with its password', () => {
    expect(check([wifi()])).toEqual({
      violations: [],
      warnings: [],
      allowJoinBeforeFirstUnlock: false,
    });
  });

  it('accepts an open network without a password', () => {
    expect(rules(check([wifi({ EncryptionType: 'None', Password: undefined })]))).toEqual([]);
  });

  it('accepts the real profiles used for Return to Service and for re-enrollment', () => {
    for (const name of [
      'wifi-return-to-service-hidden-any.mobileconfig',
      'wifi-wpa2-personal-onboarding-4h.mobileconfig',
    ]) {
      expect(record(checkReturnToServiceWifi(fixture(name), visionPreserving))).toEqual({
        violations: [],
        warnings: [],
        allowJoinBeforeFirstUnlock: false,
      });
    }
  });

  it('reports unreadable bytes as a violation instead of throwing', () => {
    const result = record(
      checkReturnToServiceWifi(new TextEncoder().encode('not a profile'), visionPreserving),
    );

    expect(rules(result)).toEqual(['wifi.profile-unreadable']);
    expect(result.violations[0]?.message).toMatch(/^The Wi-Fi profile is not a readable/);
  });

  it('refuses an encrypted profile: the erased device cannot decrypt it', () => {
    const encrypted = encodePlistXml({
      PayloadType: 'Configuration',
      PayloadIdentifier: 'com.example.rts-wifi',
      PayloadUUID: 'U',
      EncryptedPayloadContent: new Uint8Array([1, 2, 3]),
    });

    expect(rules(record(checkReturnToServiceWifi(encrypted, visionPreserving)))).toEqual([
      'wifi.profile-encrypted',
    ]);
  });

  it('refuses a profile without any Wi-Fi payload', () => {
    expect(rules(check([certificate('com.apple.security.pem', 'C-1')]))).toEqual([
      'wifi.no-payload',
    ]);
  });

  it('refuses an encrypted personal network without its password, naming it', () => {
    const result = check([wifi({ Password: undefined })]);

    expect(result.violations).toEqual([
      {
        rule: 'wifi.password-missing',
        message:
          'Wi-Fi network "Devices" is an encrypted network (EncryptionType WPA2) without a ' +
          'Password, so the device would ask for one. Add the Password, or set EncryptionType ' +
          'to None if the network is open.',
        payloadIdentifier: 'com.example.wifi.devices',
      },
    ]);
  });

  it('treats a missing EncryptionType as Any, which needs a password too', () => {
    const result = check([wifi({ EncryptionType: undefined, Password: '' })]);

    expect(rules(result)).toEqual(['wifi.password-missing']);
    expect(result.violations[0]?.message).toContain('(EncryptionType Any, the default)');
  });

  it.each(['WEP', 'WPA', 'WPA3', 'Any'])('asks for a password on %s networks', (encryption) => {
    expect(rules(check([wifi({ EncryptionType: encryption, Password: undefined })]))).toEqual([
      'wifi.password-missing',
    ]);
  });

  it('refuses an EncryptionType outside the schema list', () => {
    expect(rules(check([wifi({ EncryptionType: 'WPA2-Personal' })]))).toEqual([
      'wifi.unknown-encryption-type',
    ]);
  });

  it('refuses AutoJoin false: someone would have to pick the network', () => {
    expect(rules(check([wifi({ AutoJoin: false })]))).toEqual(['wifi.auto-join-off']);
  });

  it('refuses a payload that names no network', () => {
    const result = check([wifi({ SSID_STR: undefined })]);

    expect(rules(result)).toEqual(['wifi.network-unnamed']);
    expect(result.violations[0]?.message).toMatch(/^Wi-Fi payload com\.example\.wifi\.devices /);
  });

  it('accepts a Hotspot 2.0 network named by its DomainName', () => {
    expect(
      rules(check([enterprise({ SSID_STR: undefined, DomainName: 'hotspot.example.test' })])),
    ).toEqual([]);
  });

  it('refuses keys with the wrong type, listing them', () => {
    const result = check([wifi({ AutoJoin: 'yes', CaptiveBypass: 1 })]);

    expect(rules(result)).toEqual(['wifi.malformed-key']);
    expect(result.violations[0]?.message).toMatch(
      /^Wi-Fi network "Devices": AutoJoin, CaptiveBypass have/,
    );
  });

  it('requires every payload to join, not just one', () => {
    const result = check([wifi(), wifi({ SSID_STR: 'Guests', Password: undefined })]);

    expect(rules(result)).toEqual(['wifi.password-missing']);
    expect(result.violations[0]?.message).toMatch(/^Wi-Fi network "Guests"/);
  });

  it('only warns on CaptiveBypass: it hints at a captive portal, it does not prove one', () => {
    const result = check([wifi({ CaptiveBypass: true })]);

    expect(rules(result)).toEqual([]);
    expect(warningRules(result)).toEqual(['wifi.captive-bypass']);
    expect(result.warnings[0]?.message).toMatch(/^Wi-Fi network "Devices" sets CaptiveBypass/);
  });
});

describe('checkReturnToServiceWifi: enterprise networks (B03)', () => {
  it('refuses (a) PEAP with no stored user name or password', () => {
    const result = check([
      enterprise({
        EAPClientConfiguration: eap({ TLSTrustedServerNames: ['radius.example.test'] }),
      }),
    ]);

    expect(result.violations).toEqual([
      {
        rule: 'wifi.enterprise-credentials-missing',
        message:
          'Wi-Fi network "Devices" uses enterprise authentication (EAPClientConfiguration) ' +
          'without UserName and UserPassword and without an identity certificate in the ' +
          'profile; after the erase the device would wait for a person to sign in. Add the ' +
          'credentials, or a PKCS #12, SCEP or ACME payload referenced by PayloadCertificateUUID.',
        payloadIdentifier: 'com.example.wifi.devices',
      },
    ]);
  });

  it('refuses the real university PEAP profile: it stores the user name but not the password', () => {
    const result = record(
      checkReturnToServiceWifi(
        fixture('wifi-wpa-enterprise-peap-proxy-pac-multi-payload.mobileconfig'),
        { preserveApps: false },
      ),
    );

    expect(rules(result)).toEqual(['wifi.enterprise-credentials-missing']);
    expect(result.violations[0]?.message).toContain(
      'Wi-Fi network "EXNET-Air" uses enterprise authentication (EAPClientConfiguration) without UserPassword',
    );
    expect(warningRules(result)).toEqual([]);
  });

  it('accepts PEAP with stored credentials and a trusted server name', () => {
    expect(check([enterprise()])).toMatchObject({ violations: [], warnings: [] });
  });

  it('accepts EAP-TLS with an identity payload included in the profile', () => {
    const result = check([
      enterprise({
        PayloadCertificateUUID: 'ID-1',
        EAPClientConfiguration: eap({
          AcceptEAPTypes: [13],
          PayloadCertificateAnchorUUID: ['CA-1'],
        }),
      }),
      certificate('com.apple.security.pkcs12', 'ID-1'),
      certificate('com.apple.security.root', 'CA-1'),
    ]);

    expect(result).toMatchObject({ violations: [], warnings: [] });
  });

  it.each(['com.apple.security.scep', 'com.apple.security.acme'])(
    'accepts an identity from a %s payload',
    (type) => {
      const result = check([
        enterprise({
          PayloadCertificateUUID: 'ID-1',
          EAPClientConfiguration: eap({ AcceptEAPTypes: [13], TLSTrustedServerNames: ['r'] }),
        }),
        certificate(type, 'ID-1'),
      ]);

      expect(rules(result)).toEqual([]);
    },
  );

  it('refuses EAP-TLS with only a user name and password: TLS needs an identity', () => {
    const result = check([
      enterprise({
        EAPClientConfiguration: eap({
          AcceptEAPTypes: [13],
          UserName: 'u',
          UserPassword: PASSWORD,
          TLSTrustedServerNames: ['r'],
        }),
      }),
    ]);

    expect(rules(result)).toEqual(['wifi.enterprise-credentials-missing']);
    expect(result.violations[0]?.message).toContain(
      'uses EAP-TLS but the profile holds no identity',
    );
  });

  it('refuses an identity reference that points at a certificate without a private key', () => {
    const result = check([
      enterprise({
        PayloadCertificateUUID: 'PEM-1',
        EAPClientConfiguration: eap({ AcceptEAPTypes: [13], TLSTrustedServerNames: ['r'] }),
      }),
      certificate('com.apple.security.pem', 'PEM-1'),
    ]);

    expect(rules(result)).toEqual(['wifi.enterprise-credentials-missing']);
    expect(result.violations[0]?.message).toContain(
      'PayloadCertificateUUID points at a com.apple.security.pem payload, which holds no private key',
    );
  });

  it('refuses certificates referenced but not included in the profile', () => {
    const result = check([
      enterprise({
        PayloadCertificateUUID: 'ID-MISSING',
        EAPClientConfiguration: eap({
          AcceptEAPTypes: [13],
          PayloadCertificateAnchorUUID: ['CA-MISSING'],
        }),
      }),
    ]);

    expect(rules(result)).toEqual([
      'wifi.certificate-not-included',
      'wifi.enterprise-credentials-missing',
    ]);
    expect(result.violations[0]?.message).toContain('payloads ID-MISSING, CA-MISSING');
    expect(warningRules(result)).toEqual(['wifi.eap-server-trust']);
  });

  it('refuses OneTimeUserPassword: the device asks at every join', () => {
    const result = check([
      enterprise({
        EAPClientConfiguration: eap({
          UserName: 'u',
          UserPassword: PASSWORD,
          OneTimeUserPassword: true,
          TLSTrustedServerNames: ['r'],
        }),
      }),
    ]);

    expect(rules(result)).toEqual(['wifi.one-time-password']);
  });

  it('refuses an EAPClientConfiguration without AcceptEAPTypes', () => {
    const result = check([
      enterprise({
        EAPClientConfiguration: {
          UserName: 'u',
          UserPassword: PASSWORD,
          TLSTrustedServerNames: ['r'],
        },
      }),
    ]);

    expect(rules(result)).toEqual(['wifi.malformed-key']);
    expect(result.violations[0]?.message).toContain('has no AcceptEAPTypes');
  });

  it('only warns on SIM-based EAP: devices with the right SIM join by themselves', () => {
    const result = check([
      enterprise({ EAPClientConfiguration: eap({ AcceptEAPTypes: [18, 23] }) }),
    ]);

    expect(rules(result)).toEqual([]);
    expect(warningRules(result)).toEqual(['wifi.eap-sim']);
  });

  it('warns when no server certificate or name is trusted: the device may ask a person', () => {
    const result = check([
      enterprise({ EAPClientConfiguration: eap({ UserName: 'u', UserPassword: PASSWORD }) }),
    ]);

    expect(rules(result)).toEqual([]);
    expect(warningRules(result)).toEqual(['wifi.eap-server-trust']);
  });
});

describe('checkReturnToServiceWifi: AllowJoinBeforeFirstUnlock (section 11, B03)', () => {
  const early = (keys: Record<string, PlistDict[string] | undefined> = {}): PlistDict =>
    wifi({ AllowJoinBeforeFirstUnlock: true, ...keys });

  it('accepts one personal network with the flag on a visionOS configuration that keeps apps', () => {
    expect(check([early({ ProxyType: 'None', IsHotspot: false })])).toEqual({
      violations: [],
      warnings: [],
      allowJoinBeforeFirstUnlock: true,
    });
  });

  it('does not count a payload that sets the flag to false', () => {
    const result = check([early(), wifi({ SSID_STR: 'B', AllowJoinBeforeFirstUnlock: false })]);

    expect(result).toMatchObject({ violations: [], allowJoinBeforeFirstUnlock: true });
  });

  it('refuses the flag without app preservation, where the device does not take it', () => {
    const result = check([early()], { preserveApps: false, platforms: ['visionos'] });

    expect(rules(result)).toEqual(['wifi.abfu.requires-app-preservation']);
    expect(result.violations[0]?.message).toMatch(
      /^Wi-Fi network "Devices" sets AllowJoinBeforeFirstUnlock but the configuration does not preserve apps/,
    );
  });

  it('refuses (b) the flag together with an EAPClientConfiguration', () => {
    const result = check([enterprise({ AllowJoinBeforeFirstUnlock: true })]);

    expect(rules(result)).toEqual(['wifi.abfu.eap']);
    expect(result.violations[0]?.message).toContain(
      'sets AllowJoinBeforeFirstUnlock together with EAPClientConfiguration',
    );
  });

  it('refuses (c) two payloads that both set the flag, once, naming both networks', () => {
    const result = check([early(), early({ SSID_STR: 'Backup', PayloadIdentifier: 'b' })]);

    expect(rules(result)).toEqual(['wifi.abfu.more-than-one']);
    expect(result.violations[0]?.message).toBe(
      'AllowJoinBeforeFirstUnlock is set on 2 networks (Wi-Fi network "Devices", ' +
        'Wi-Fi network "Backup"); the device accepts it on one network only. Keep it on one.',
    );
  });

  it('refuses (d) the flag together with ProxyType Manual', () => {
    const result = check([early({ ProxyType: 'Manual', ProxyServer: 'proxy.example.test' })]);

    expect(rules(result)).toEqual(['wifi.abfu.proxy']);
    expect(result.violations[0]?.message).toContain('with ProxyType "Manual"');
  });

  it('refuses the flag with ProxyType Auto, and with a ProxyType that is not a string', () => {
    expect(rules(check([early({ ProxyType: 'Auto' })]))).toEqual(['wifi.abfu.proxy']);
    expect(rules(check([early({ ProxyType: 0 })]))).toEqual([
      'wifi.malformed-key',
      'wifi.abfu.proxy',
    ]);
  });

  it('refuses the flag on a hotspot, and IsHotspot written as a string', () => {
    expect(rules(check([early({ IsHotspot: true })]))).toEqual(['wifi.abfu.hotspot']);
    expect(rules(check([early({ IsHotspot: 'false' })]))).toEqual([
      'wifi.malformed-key',
      'wifi.abfu.hotspot',
    ]);
  });

  it('refuses the flag with any QoSMarkingPolicy, even an empty one', () => {
    expect(rules(check([early({ QoSMarkingPolicy: {} })]))).toEqual(['wifi.abfu.qos-marking']);
  });

  it('refuses a flag that is not a boolean, and does not count it as set', () => {
    const result = check([early({ AllowJoinBeforeFirstUnlock: 'true' })]);

    expect(result).toMatchObject({ allowJoinBeforeFirstUnlock: false });
    expect(rules(result)).toEqual(['wifi.malformed-key']);
  });

  it('reports every broken condition of one payload', () => {
    const result = check(
      [
        enterprise({
          AllowJoinBeforeFirstUnlock: true,
          IsHotspot: true,
          QoSMarkingPolicy: { QoSMarkingEnabled: true },
          ProxyType: 'Manual',
        }),
      ],
      { preserveApps: false, platforms: ['visionos'] },
    );

    expect(rules(result)).toEqual([
      'wifi.abfu.requires-app-preservation',
      'wifi.abfu.eap',
      'wifi.abfu.hotspot',
      'wifi.abfu.qos-marking',
      'wifi.abfu.proxy',
    ]);
  });

  it('warns that the flag is visionOS-only when the configuration may reach other devices', () => {
    for (const platforms of [undefined, ['visionos', 'ipados'], ['tvos']]) {
      const result = check([early()], { preserveApps: true, platforms });

      expect(rules(result)).toEqual([]);
      expect(warningRules(result)).toEqual(['wifi.abfu.visionos-only']);
    }
    expect(warningRules(check([early()], { preserveApps: true, platforms: ['visionOS'] }))).toEqual(
      [],
    );
  });
});

describe('checkReturnToServiceWifi findings', () => {
  it('cover every rule id the module declares', () => {
    expect([...seen.violations].sort()).toEqual([...WIFI_VIOLATION_RULES].sort());
    expect([...seen.warnings].sort()).toEqual([...WIFI_WARNING_RULES].sort());
  });

  it('never repeat a Wi-Fi password', () => {
    expect(messages.length).toBeGreaterThan(30);
    expect(messages.filter((message) => message.includes(PASSWORD))).toEqual([]);
  });
});
