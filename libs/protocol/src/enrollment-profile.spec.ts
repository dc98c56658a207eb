import forge from 'node-forge';

import {
  assertValidAccessRights,
  buildEnrollmentProfile,
  readEnrollmentProfile,
  type EnrollmentIdentity,
  type EnrollmentProfileOptions,
} from './enrollment-profile.js';
import { decodePlist, encodePlistBinary } from './plist-codec.js';
import type { PlistDict } from './plist-types.js';
import { parseProfile } from './profiles.js';
import { expectProtocolError } from './testing/expect-error.js';
import { readFixture } from './testing/fixtures.js';
import { createTestIdentity, pkcs12Of, signAttached } from './testing/signing.js';

const identity = createTestIdentity('device identity');
const pkcs12 = pkcs12Of(identity, 'secret');
const UUID_RE = /^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$/;

function pkcs12Identity(read: EnrollmentIdentity): { pkcs12: Uint8Array; password: string } {
  if ('scep' in read) throw new Error('expected a PKCS#12 identity');

  return read;
}

function options(overrides: Partial<EnrollmentProfileOptions> = {}): EnrollmentProfileOptions {
  return {
    serverUrl: 'https://mdm.example.test/mdm',
    checkInUrl: 'https://mdm.example.test/checkin',
    topic: 'com.apple.mgmt.External.TEST-A',
    identity: { pkcs12, password: 'secret' },
    organization: 'Example School',
    displayName: 'Example enrollment',
    payloadIdentifierPrefix: 'test.example.enroll',
    ...overrides,
  };
}

describe('buildEnrollmentProfile', () => {
  it('builds a Configuration profile with a PKCS#12 identity and an MDM payload naming it', () => {
    const profile = parseProfile(buildEnrollmentProfile(options()));
    const [identityPayload, mdm] = profile.payloads;

    expect(profile).toMatchObject({
      payloadType: 'Configuration',
      payloadIdentifier: 'test.example.enroll',
      payloadDisplayName: 'Example enrollment',
      payloadVersion: 1,
    });
    expect(profile.raw['PayloadOrganization']).toBe('Example School');
    expect(identityPayload?.payloadType).toBe('com.apple.security.pkcs12');
    expect(Buffer.from(identityPayload?.raw['PayloadContent'] as Uint8Array).equals(pkcs12)).toBe(
      true,
    );
    expect(identityPayload?.raw['Password']).toBe('secret');
    expect(mdm?.raw).toEqual({
      PayloadType: 'com.apple.mdm',
      PayloadVersion: 1,
      PayloadIdentifier: 'test.example.enroll.mdm',
      PayloadUUID: expect.stringMatching(UUID_RE),
      PayloadDisplayName: 'Device management',
      IdentityCertificateUUID: identityPayload?.payloadUUID,
      Topic: 'com.apple.mgmt.External.TEST-A',
      ServerURL: 'https://mdm.example.test/mdm',
      CheckInURL: 'https://mdm.example.test/checkin',
      SignMessage: true,
      CheckOutWhenRemoved: true,
      AccessRights: 8191,
      ServerCapabilities: ['com.apple.mdm.bootstraptoken'],
    });
  });

  it('uses fresh upper-case UUIDs on every call', () => {
    const uuids = (bytes: Buffer): string[] => {
      const profile = parseProfile(bytes);

      return [profile.payloadUUID, ...profile.payloads.map((p) => p.payloadUUID ?? '')];
    };
    const first = uuids(buildEnrollmentProfile(options()));
    const second = uuids(buildEnrollmentProfile(options()));

    for (const uuid of [...first, ...second]) expect(uuid).toMatch(UUID_RE);
    expect(new Set([...first, ...second]).size).toBe(6);
  });

  it('writes the PKCS#12 as <data> that forge can open with the password', () => {
    const xml = buildEnrollmentProfile(options()).toString();
    const settings = readEnrollmentProfile(Buffer.from(xml));
    const read = pkcs12Identity(settings.identity);
    const p12 = forge.pkcs12.pkcs12FromAsn1(
      forge.asn1.fromDer(Buffer.from(read.pkcs12).toString('latin1')),
      read.password,
    );
    const bags = p12.getBags({ bagType: forge.pki.oids.certBag })[forge.pki.oids.certBag] ?? [];

    expect(xml).toContain(`<data>${pkcs12.toString('base64')}</data>`);
    expect(bags[0]?.cert?.subject.getField('CN').value).toBe('device identity');
  });

  it('honours explicit options', () => {
    const settings = readEnrollmentProfile(
      buildEnrollmentProfile(
        options({
          checkInUrl: undefined,
          accessRights: 1 | 2 | 8 | 16,
          serverCapabilities: [
            'com.apple.mdm.per-user-connections',
            'com.apple.mdm.bootstraptoken',
          ],
          signMessage: false,
          checkOutWhenRemoved: false,
        }),
      ),
    );

    expect(settings).toMatchObject({
      serverUrl: 'https://mdm.example.test/mdm',
      checkInUrl: 'https://mdm.example.test/mdm',
      accessRights: 27,
      serverCapabilities: ['com.apple.mdm.per-user-connections', 'com.apple.mdm.bootstraptoken'],
      signMessage: false,
      checkOutWhenRemoved: false,
    });
    expect(settings.profile.payloads[1]?.raw['CheckInURL']).toBeUndefined();
  });

  it('refuses invalid settings', () => {
    const refused: Partial<EnrollmentProfileOptions>[] = [
      { serverUrl: 'http://mdm.example.test/mdm' },
      { serverUrl: 'not a url' },
      { checkInUrl: 'ftp://mdm.example.test' },
      { topic: 'com.example.push' },
      { accessRights: 0 },
      { accessRights: 2 },
      { accessRights: 128 | 1 },
      { accessRights: 8192 },
      { serverCapabilities: ['com.apple.mdm.unknown'] },
      { serverCapabilities: ['com.apple.mdm.token', 'com.apple.mdm.token'] },
      { identity: { pkcs12: Buffer.from('not der'), password: '' } },
      { identity: { pkcs12, password: undefined as unknown as string } },
      { payloadIdentifierPrefix: '' },
      { displayName: '' },
    ];

    for (const override of refused) {
      expectProtocolError(
        () => buildEnrollmentProfile(options(override)),
        'PROFILE.INVALID_ARGUMENT',
      );
    }
  });

  it('accepts http URLs only when explicitly allowed for local tests', () => {
    const settings = readEnrollmentProfile(
      buildEnrollmentProfile(
        options({
          serverUrl: 'http://127.0.0.1:8080/mdm',
          checkInUrl: undefined,
          allowInsecureUrls: true,
        }),
      ),
    );

    expect(settings.checkInUrl).toBe('http://127.0.0.1:8080/mdm');
  });
});

describe('assertValidAccessRights', () => {
  it('accepts 8191, 1, 3 and 192 and refuses 0, 2, 128 and fractions', () => {
    for (const ok of [8191, 1, 3, 64 | 128, 16])
      expect(() => assertValidAccessRights(ok)).not.toThrow();
    for (const bad of [0, 2, 128, 2 | 4, 1.5, -1]) {
      expectProtocolError(() => assertValidAccessRights(bad), 'PROFILE.INVALID_ARGUMENT');
    }
  });
});

describe('readEnrollmentProfile', () => {
  it('reads what the simulator needs from a built profile', () => {
    const settings = readEnrollmentProfile(buildEnrollmentProfile(options()));

    expect(settings).toMatchObject({
      serverUrl: 'https://mdm.example.test/mdm',
      checkInUrl: 'https://mdm.example.test/checkin',
      topic: 'com.apple.mgmt.External.TEST-A',
      signMessage: true,
      checkOutWhenRemoved: true,
      serverCapabilities: ['com.apple.mdm.bootstraptoken'],
      accessRights: 8191,
      identity: { password: 'secret' },
    });
    expect(Buffer.from(pkcs12Identity(settings.identity).pkcs12).equals(pkcs12)).toBe(true);
  });

  it('reads signed and binary enrollment profiles', () => {
    const xml = buildEnrollmentProfile(options());
    const signed = readEnrollmentProfile(signAttached(xml, identity));
    const binary = readEnrollmentProfile(encodePlistBinary(decodePlist(xml)));

    expect(signed.profile.isSigned).toBe(true);
    expect(signed.topic).toBe('com.apple.mgmt.External.TEST-A');
    expect(Buffer.from(pkcs12Identity(binary.identity).pkcs12).equals(pkcs12)).toBe(true);
  });

  it('reads the SCEP identity of a real enrollment profile, Apple defaults filled in', () => {
    const settings = readEnrollmentProfile(
      readFixture('profile', 'enrollment-scep-mdm-nanomdm.mobileconfig'),
    );

    expect(settings.identity).toEqual({
      scep: {
        url: 'https://mdm.example.org/scep',
        challenge: 'SCEP-CHALLENGE-HERE',
        subject: [],
        keySize: 2048,
        keyType: 'RSA',
        keyUsage: 5,
      },
    });
  });

  it('refuses an identity payload of another kind with PROFILE.UNSUPPORTED_IDENTITY', () => {
    const profile = decodePlist(buildEnrollmentProfile(options())) as PlistDict;
    const [identityPayload] = profile['PayloadContent'] as PlistDict[];

    (identityPayload as PlistDict)['PayloadType'] = 'com.apple.security.acme';
    const error = expectProtocolError(
      () => readEnrollmentProfile(encodePlistBinary(profile)),
      'PROFILE.UNSUPPORTED_IDENTITY',
    );

    expect(error.message).toContain('com.apple.security.acme');
  });

  it('refuses profiles without an MDM payload or whose identity payload is missing', () => {
    expectProtocolError(
      () =>
        readEnrollmentProfile(
          readFixture('profile', 'wifi-return-to-service-hidden-any.mobileconfig'),
        ),
      'PROFILE.MISSING_PAYLOAD',
    );

    const profile = decodePlist(buildEnrollmentProfile(options())) as PlistDict;
    const [, mdm] = profile['PayloadContent'] as PlistDict[];

    profile['PayloadContent'] = [mdm as PlistDict];
    expectProtocolError(
      () => readEnrollmentProfile(encodePlistBinary(profile)),
      'PROFILE.MISSING_PAYLOAD',
    );
  });
});
