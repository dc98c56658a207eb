import forge from 'node-forge';

import { unwrapCmsSignedData } from './cms.js';
import { decodePlist, encodePlistBinary, encodePlistXml } from './plist-codec.js';
import type { PlistDict } from './plist-types.js';
import { inspectWifiPayloads, parseProfile, type ConfigurationProfile } from './profiles.js';
import { expectProtocolError } from './testing/expect-error.js';
import { listFixtures, readFixture } from './testing/fixtures.js';
import { createTestIdentity, signAttached } from './testing/signing.js';
import { dictXml, xmlPlist } from './testing/xml.js';

const profile = (name: string): ConfigurationProfile => parseProfile(readFixture('profile', name));

function wifiProfile(keys: PlistDict): ConfigurationProfile {
  return parseProfile(
    encodePlistXml({
      PayloadType: 'Configuration',
      PayloadIdentifier: 'com.example.profile',
      PayloadUUID: 'P',
      PayloadContent: [
        { PayloadType: 'com.apple.wifi.managed', PayloadIdentifier: 'com.example.wifi', ...keys },
      ],
    }),
  );
}
const identity = createTestIdentity();

describe('parseProfile on the real profiles', () => {
  it('parses every profile fixture', () => {
    const summary = listFixtures('profile').map((name) => {
      const parsed = profile(name);

      return [name, parsed.payloadType, parsed.payloads.map((p) => p.payloadType)];
    });

    expect(summary).toEqual([
      ['acme-hardware-bound-apple-doc.mobileconfig', 'Configuration', ['com.apple.security.acme']],
      [
        'enrollment-scep-mdm-nanomdm.mobileconfig',
        'Configuration',
        ['com.apple.security.scep', 'com.apple.mdm'],
      ],
      [
        'restrictions-ios-targetdevicetype.mobileconfig',
        'Configuration',
        ['com.apple.applicationaccess'],
      ],
      ['scep-template-nanocmd.mobileconfig', 'Configuration', ['com.apple.security.scep']],
      [
        'wifi-return-to-service-hidden-any.mobileconfig',
        'Configuration',
        ['com.apple.wifi.managed'],
      ],
      [
        'wifi-wpa-enterprise-peap-proxy-pac-multi-payload.mobileconfig',
        'Configuration',
        [
          'com.apple.wifi.managed',
          'com.apple.security.pem',
          'com.apple.mail.managed',
          'com.apple.vpn.managed',
        ],
      ],
      [
        'wifi-wpa2-personal-onboarding-4h.mobileconfig',
        'Configuration',
        ['com.apple.wifi.managed'],
      ],
    ]);
  });

  it('keeps a non-hex pseudo-UUID identifier as it is', () => {
    expect(profile('wifi-wpa2-personal-onboarding-4h.mobileconfig')).toMatchObject({
      payloadIdentifier: 'FB89CA16-3361-4C7C-4HOUR-ECC488BFF6A5',
      payloadUUID: '5E23F1E3-AAC6-4FEB-B41C-437C1D8148F1',
      payloadDisplayName: 'Onboarding 4hr',
      payloadVersion: 1,
      isSigned: false,
      isEncrypted: false,
    });
  });

  it('reads Japanese text and entity-escaped organisation names', () => {
    const parsed = profile('wifi-wpa-enterprise-peap-proxy-pac-multi-payload.mobileconfig');

    expect(parsed.payloadDisplayName).toBe('例大ラクラク設定ツール for iOS / OS X');
    expect(parsed.raw['PayloadOrganization']).toBe('ICT P&Q Office, ITSC, Exmpl University');
    expect(parsed.payloads[1]).toMatchObject({
      payloadType: 'com.apple.security.pem',
      payloadUUID: '034AE5DD-9456-40FB-81E5-8F3B8EF0F9EC',
      payloadDisplayName: 'EXNET-Air Radiusサーバ証明書',
    });
    expect(parsed.payloads[1]?.raw['PayloadContent']).toBeInstanceOf(Uint8Array);
  });

  it('reads the nanomdm enrollment profile payload values', () => {
    const mdm = profile('enrollment-scep-mdm-nanomdm.mobileconfig').payloads[1]?.raw;

    expect(mdm).toMatchObject({
      AccessRights: 8191,
      IdentityCertificateUUID: 'CB90E976-AD44-4B69-8108-8095E6260978',
      ServerURL: 'https://mdm.example.org/mdm',
      SignMessage: true,
    });
  });
});

describe('parseProfile containers', () => {
  const xml = readFixture('profile', 'wifi-return-to-service-hidden-any.mobileconfig');

  it('parses a binary profile to the same result as its XML form', () => {
    const binary = parseProfile(encodePlistBinary(decodePlist(xml)));

    expect(binary).toEqual(parseProfile(xml));
  });

  it('unwraps a CMS-signed profile without verifying the signature', () => {
    const signed = signAttached(xml, identity);
    const parsed = parseProfile(signed);

    expect(signed[0]).toBe(0x30);
    expect(parsed.isSigned).toBe(true);
    expect(parsed.payloadIdentifier).toBe('au.edu.wa.stexample.wifi.rts');
    expect({ ...parsed, isSigned: false }).toEqual(parseProfile(xml));
  });

  it('unwraps a signed binary profile', () => {
    const signed = signAttached(encodePlistBinary(decodePlist(xml)), identity);

    expect(parseProfile(signed).payloads[0]?.payloadType).toBe('com.apple.wifi.managed');
  });

  it('reads eContent split into BER constructed OCTET STRING chunks', () => {
    const { asn1 } = forge;
    const chunks = [xml.subarray(0, 100), xml.subarray(100)].map((part) =>
      asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OCTETSTRING, false, part.toString('latin1')),
    );
    const der = asn1.toDer(
      asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
        asn1.create(
          asn1.Class.UNIVERSAL,
          asn1.Type.OID,
          false,
          asn1.oidToDer('1.2.840.113549.1.7.2').getBytes(),
        ),
        asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [
          asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
            asn1.create(asn1.Class.UNIVERSAL, asn1.Type.INTEGER, false, '\x01'),
            asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SET, true, []),
            asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
              asn1.create(
                asn1.Class.UNIVERSAL,
                asn1.Type.OID,
                false,
                asn1.oidToDer('1.2.840.113549.1.7.1').getBytes(),
              ),
              asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [
                asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OCTETSTRING, true, chunks),
              ]),
            ]),
            asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SET, true, []),
          ]),
        ]),
      ]),
    );

    expect(
      Buffer.from(unwrapCmsSignedData(Buffer.from(der.getBytes(), 'latin1'))).equals(xml),
    ).toBe(true);
  });

  it('rejects DER that is not SignedData with attached content', () => {
    const der = (node: forge.asn1.Asn1): Buffer =>
      Buffer.from(forge.asn1.toDer(node).getBytes(), 'latin1');
    const emptySequence = forge.asn1.create(
      forge.asn1.Class.UNIVERSAL,
      forge.asn1.Type.SEQUENCE,
      true,
      [],
    );
    const detached = forge.pkcs7.createSignedData();

    detached.content = forge.util.createBuffer(xml.toString('latin1'));
    detached.addCertificate(identity.certificate);
    detached.addSigner({
      key: identity.key,
      certificate: identity.certificate,
      digestAlgorithm: forge.pki.oids.sha256,
    });
    detached.sign({ detached: true });

    expectProtocolError(() => parseProfile(Buffer.from([0x30, 0x82, 0xff])), 'PROFILE.MALFORMED');
    expectProtocolError(() => parseProfile(der(emptySequence)), 'PROFILE.MALFORMED');
    expectProtocolError(
      () => parseProfile(der(forge.pki.certificateToAsn1(identity.certificate))),
      'PROFILE.MALFORMED',
    );

    const error = expectProtocolError(
      () => parseProfile(der(detached.toAsn1())),
      'PROFILE.MALFORMED',
    );

    expect(error.message).toContain('detached');
  });

  it('rejects profiles missing the required top-level keys or with bad payloads', () => {
    const base = {
      PayloadIdentifier: '<string>com.example</string>',
      PayloadUUID: '<string>U</string>',
      PayloadType: '<string>Configuration</string>',
    };

    expectProtocolError(() => parseProfile(xmlPlist(dictXml(base))), 'PROFILE.MALFORMED');
    expectProtocolError(
      () =>
        parseProfile(
          xmlPlist(dictXml({ ...base, PayloadContent: '<array><string>x</string></array>' })),
        ),
      'PROFILE.MALFORMED',
    );
    expectProtocolError(
      () =>
        parseProfile(
          xmlPlist(
            dictXml({
              ...base,
              PayloadContent: `<array>${dictXml({ PayloadType: '<string>t</string>' })}</array>`,
            }),
          ),
        ),
      'PROFILE.MALFORMED',
    );
    expectProtocolError(
      () =>
        parseProfile(
          xmlPlist(
            dictXml({ PayloadType: '<string>Configuration</string>', PayloadContent: '<array/>' }),
          ),
        ),
      'PROFILE.MALFORMED',
    );
  });

  it('accepts an encrypted profile without PayloadContent', () => {
    const parsed = parseProfile(
      xmlPlist(
        dictXml({
          PayloadIdentifier: '<string>com.example</string>',
          PayloadUUID: '<string>U</string>',
          PayloadType: '<string>Configuration</string>',
          EncryptedPayloadContent: '<data>AAEC</data>',
        }),
      ),
    );

    expect(parsed).toMatchObject({ isEncrypted: true, payloads: [] });
  });
});

describe('inspectWifiPayloads', () => {
  it('reports the Return-to-Service profile as a password network without EAP, proxy or QoS', () => {
    expect(inspectWifiPayloads(profile('wifi-return-to-service-hidden-any.mobileconfig'))).toEqual([
      {
        payloadIdentifier: 'com.apple.wifi.managed.331ACA63-B141-46D5-8B2B-4D2BAB5B8D92',
        payloadUUID: '331ACA63-B141-46D5-8B2B-4D2BAB5B8D92',
        ssid: 'EXC Devices',
        hiddenNetwork: true,
        autoJoin: true,
        encryptionType: 'Any',
        hasPassword: true,
        isHotspot: false,
        captiveBypass: false,
        proxyType: 'None',
        hasQoSMarkingPolicy: false,
        disableAssociationMACRandomization: true,
        hasEAPClientConfiguration: false,
        mistypedKeys: [],
        raw: expect.any(Object),
      },
    ]);
  });

  it('reports WPA2 personal onboarding values', () => {
    expect(
      inspectWifiPayloads(profile('wifi-wpa2-personal-onboarding-4h.mobileconfig'))[0],
    ).toMatchObject({
      ssid: 'Mgmt-Onboarding',
      encryptionType: 'WPA2',
      hasPassword: true,
      hiddenNetwork: false,
      proxyType: 'None',
    });
  });

  it('reports enterprise EAP with a user name but no password, and resolves the anchor certificate', () => {
    const [wifi, ...others] = inspectWifiPayloads(
      profile('wifi-wpa-enterprise-peap-proxy-pac-multi-payload.mobileconfig'),
    );

    expect(others).toEqual([]);
    expect(wifi).toMatchObject({
      ssid: 'EXNET-Air',
      encryptionType: 'WPA',
      hasPassword: false,
      proxyType: 'Auto',
      hasEAPClientConfiguration: true,
      mistypedKeys: [],
      eap: {
        acceptEAPTypes: [25],
        hasUserName: true,
        hasUserPassword: false,
        hasStoredCredentials: false,
        hasTLSTrustedCertificates: false,
        trustAnchors: [
          {
            uuid: '034AE5DD-9456-40FB-81E5-8F3B8EF0F9EC',
            includedInProfile: true,
            payloadType: 'com.apple.security.pem',
          },
        ],
        tlsTrustedServerNames: ['exnet.exmpl-u.ac.jp'],
      },
    });
  });

  it('reports the fields that decide AllowJoinBeforeFirstUnlock and missing certificate payloads', () => {
    const wifi = dictXml({
      PayloadType: '<string>com.apple.wifi.managed</string>',
      PayloadIdentifier: '<string>w</string>',
      PayloadUUID: '<string>W</string>',
      SSID_STR: '<string>Net</string>',
      AllowJoinBeforeFirstUnlock: '<true/>',
      IsHotspot: '<true/>',
      QoSMarkingPolicy: dictXml({ QoSMarkingEnabled: '<true/>' }),
      ProxyType: '<string>Manual</string>',
      PayloadCertificateUUID: '<string>MISSING-1</string>',
      EAPClientConfiguration: dictXml({
        UserName: '<string>u</string>',
        UserPassword: '<string>p</string>',
        PayloadCertificateAnchorUUID: '<array><string>MISSING-2</string></array>',
      }),
    });
    const parsed = parseProfile(
      xmlPlist(
        dictXml({
          PayloadIdentifier: '<string>p</string>',
          PayloadUUID: '<string>P</string>',
          PayloadType: '<string>Configuration</string>',
          PayloadContent: `<array>${wifi}</array>`,
        }),
      ),
    );

    expect(inspectWifiPayloads(parsed)[0]).toMatchObject({
      allowJoinBeforeFirstUnlock: true,
      isHotspot: true,
      hasQoSMarkingPolicy: true,
      proxyType: 'Manual',
      identityCertificate: { uuid: 'MISSING-1', includedInProfile: false },
      eap: {
        hasStoredCredentials: true,
        trustAnchors: [{ uuid: 'MISSING-2', includedInProfile: false }],
      },
    });
  });

  it('lists keys whose type differs from the schema and leaves them out of the typed fields', () => {
    const [wifi] = inspectWifiPayloads(
      wifiProfile({
        SSID_STR: 'Net',
        AllowJoinBeforeFirstUnlock: 'true',
        IsHotspot: 0,
        ProxyType: false,
        QoSMarkingPolicy: [],
        Password: 42,
        EAPClientConfiguration: {
          AcceptEAPTypes: ['25'],
          UserName: 7,
          PayloadCertificateAnchorUUID: 'A-1',
          TLSTrustedCertificates: ['Q0VSVA=='],
        },
      }),
    );

    expect(wifi).toMatchObject({
      hasPassword: false,
      hasQoSMarkingPolicy: true,
      hasEAPClientConfiguration: true,
      mistypedKeys: [
        'Password',
        'IsHotspot',
        'ProxyType',
        'QoSMarkingPolicy',
        'AllowJoinBeforeFirstUnlock',
        'EAPClientConfiguration.AcceptEAPTypes',
        'EAPClientConfiguration.UserName',
      ],
      eap: { acceptEAPTypes: [], hasUserName: false, hasTLSTrustedCertificates: true },
    });
    expect(wifi).not.toHaveProperty('allowJoinBeforeFirstUnlock');
    expect(wifi).not.toHaveProperty('isHotspot');
    expect(wifi).not.toHaveProperty('proxyType');
  });

  it('reports an EAPClientConfiguration that is not a dictionary as present but unreadable', () => {
    const [wifi] = inspectWifiPayloads(
      wifiProfile({ SSID_STR: 'Net', EAPClientConfiguration: 'PEAP' }),
    );

    expect(wifi).toMatchObject({
      hasEAPClientConfiguration: true,
      mistypedKeys: ['EAPClientConfiguration'],
    });
    expect(wifi).not.toHaveProperty('eap');
  });

  it('names a Hotspot 2.0 network without SSID by its DomainName', () => {
    expect(
      inspectWifiPayloads(wifiProfile({ DomainName: 'hotspot.example.test', IsHotspot: true }))[0],
    ).toMatchObject({ domainName: 'hotspot.example.test', isHotspot: true, mistypedKeys: [] });
  });

  it('returns nothing for a profile without Wi-Fi payloads', () => {
    expect(inspectWifiPayloads(profile('acme-hardware-bound-apple-doc.mobileconfig'))).toEqual([]);
  });
});
