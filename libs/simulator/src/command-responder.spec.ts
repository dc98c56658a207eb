import {
  buildEnrollmentProfile,
  encodePlistXml,
  parseReport,
  type CommandEnvelope,
  type PlistDict,
} from '@turnaround/protocol';

import {
  checkWifiProfileData,
  CommandResponder,
  type CommandAnswer,
  type DeviceView,
} from './command-responder.js';
import { createHardware, type Platform } from './hardware.js';
import { buildRestrictionsProfile, buildWifiProfile } from './rts-profiles.js';

function view(overrides: Partial<DeviceView> & { platform?: Platform } = {}): DeviceView {
  return {
    hardware: createHardware(overrides.platform ?? 'ios', 0, 'spec'),
    awaitingConfiguration: false,
    profiles: [],
    apps: [],
    ...overrides,
  };
}

let counter = 0;

function envelope(command: PlistDict & { RequestType: string }): CommandEnvelope {
  counter += 1;

  return {
    commandUuid: `CMD-${counter}`,
    requestType: command.RequestType,
    command,
  };
}

function responder(notNowShare = 0, seed = 'spec'): CommandResponder {
  return new CommandResponder({ notNowShare, seed });
}

const wifi = (): Buffer => buildWifiProfile({ ssid: 'Store-Floor', password: 'correct horse' });

function enrollmentProfile(): Buffer {
  return buildEnrollmentProfile({
    serverUrl: 'http://127.0.0.1:8080/mdm/server',
    checkInUrl: 'http://127.0.0.1:8080/mdm/checkin',
    topic: 'com.apple.mgmt.External.spec',
    identity: { pkcs12: Buffer.from([0x30, 0x03, 0x02, 0x01, 0x03]), password: 'p' },
    organization: 'Spec',
    displayName: 'Spec MDM',
    payloadIdentifierPrefix: 'io.turnaround.spec',
    allowInsecureUrls: true,
  });
}

/** The answer as the device would send it, read back by the service's parser. */
function onTheWire(answer: CommandAnswer, commandUuid = 'CMD') {
  return parseReport(
    encodePlistXml({
      UDID: 'U',
      CommandUUID: commandUuid,
      Status: answer.status,
      ...answer.result,
    }),
  );
}

describe('CommandResponder', () => {
  describe('DeviceInformation', () => {
    it('answers the queried keys with realistic values for a supervised device', () => {
      const answer = responder().answer(
        envelope({
          RequestType: 'DeviceInformation',
          Queries: [
            'UDID',
            'ProductName',
            'OSVersion',
            'IsSupervised',
            'IsActivationLockEnabled',
            'AwaitingConfiguration',
          ],
        }),
        view({ awaitingConfiguration: true }),
      );

      expect(answer.status).toBe('Acknowledged');
      expect(answer.result['QueryResponses']).toEqual({
        UDID: expect.stringMatching(/^00008140-[0-9A-F]{16}$/),
        ProductName: 'iPhone17,1',
        OSVersion: expect.stringMatching(/^26\./),
        IsSupervised: true,
        IsActivationLockEnabled: false,
        AwaitingConfiguration: true,
      });
      expect(onTheWire(answer).status).toBe('Acknowledged');
    });

    it('leaves out keys it does not know, as devices do', () => {
      const answer = responder().answer(
        envelope({ RequestType: 'DeviceInformation', Queries: ['SerialNumber', 'NoSuchKey'] }),
        view(),
      );

      expect(Object.keys(answer.result['QueryResponses'] as PlistDict)).toEqual(['SerialNumber']);
    });

    it('reports AwaitingConfiguration false once the device is configured', () => {
      const answer = responder().answer(
        envelope({ RequestType: 'DeviceInformation', Queries: ['AwaitingConfiguration'] }),
        view({ awaitingConfiguration: false }),
      );

      expect(answer.result['QueryResponses']).toEqual({ AwaitingConfiguration: false });
    });

    it('uses the 40-hex UDID and Apple TV model on tvOS', () => {
      const answer = responder().answer(
        envelope({ RequestType: 'DeviceInformation', Queries: ['UDID', 'ProductName'] }),
        view({ platform: 'tvos' }),
      );

      expect(answer.result['QueryResponses']).toEqual({
        UDID: expect.stringMatching(/^[0-9A-F]{40}$/),
        ProductName: 'AppleTV14,1',
      });
    });
  });

  it('answers SecurityInfo as an ADE-enrolled, supervised device', () => {
    const answer = responder().answer(envelope({ RequestType: 'SecurityInfo' }), view());

    expect(answer.status).toBe('Acknowledged');
    expect((answer.result['SecurityInfo'] as PlistDict)['ManagementStatus']).toMatchObject({
      EnrolledViaDEP: true,
      IsUserEnrollment: false,
      UserApprovedEnrollment: true,
    });
  });

  describe('InstallProfile', () => {
    it('installs a readable profile', () => {
      const answer = responder().answer(
        envelope({ RequestType: 'InstallProfile', Payload: buildRestrictionsProfile() }),
        view(),
      );

      expect(answer.status).toBe('Acknowledged');
      expect(answer.effect).toEqual({
        kind: 'profile-installed',
        profile: expect.objectContaining({ identifier: 'io.turnaround.simulator.restrictions' }),
      });
    });

    it('refuses an unreadable profile with an ErrorChain', () => {
      const answer = responder().answer(
        envelope({ RequestType: 'InstallProfile', Payload: Buffer.from('not a profile') }),
        view(),
      );
      const report = onTheWire(answer);

      expect(answer.status).toBe('Error');
      expect(answer.effect).toEqual({ kind: 'none' });
      expect(report.errorChain?.[0]).toMatchObject({
        errorDomain: 'MCProfileErrorDomain',
        localizedDescription: 'The profile could not be read.',
      });
    });

    it('names a profile that was base64-encoded twice', () => {
      const payload = Buffer.from(buildRestrictionsProfile().toString('base64'));
      const answer = responder().answer(
        envelope({ RequestType: 'InstallProfile', Payload: payload }),
        view(),
      );

      expect(answer.status).toBe('Error');
      expect(JSON.stringify(answer.result['ErrorChain'])).toMatch(/encoded twice/);
    });

    it('answers CommandFormatError when Payload is missing', () => {
      const answer = responder().answer(envelope({ RequestType: 'InstallProfile' }), view());

      expect(answer.status).toBe('CommandFormatError');
    });
  });

  describe('InstallApplication', () => {
    it('acknowledges with the app state', () => {
      const answer = responder(0).answer(
        envelope({ RequestType: 'InstallApplication', iTunesStoreID: 361309726 }),
        view({ awaitingConfiguration: true }),
      );

      expect(answer.status).toBe('Acknowledged');
      expect(answer.result).toEqual({ Identifier: 'com.apple.Pages', State: 'Installing' });
      expect(answer.effect).toEqual({
        kind: 'app-installing',
        identifier: 'com.apple.Pages',
        install: 'download',
      });
    });

    it('puts an install off with NotNow once, then acknowledges it when it comes again', () => {
      const device = responder(1);
      const install = envelope({ RequestType: 'InstallApplication', iTunesStoreID: 361304891 });

      expect(device.answer(install, view()).status).toBe('NotNow');
      expect(device.answer(install, view()).status).toBe('Acknowledged');
    });

    it('draws the same NotNow answers for the same seed, whatever the CommandUUIDs', () => {
      const draws = (seed: string): string[] => {
        const device = responder(0.5, seed);

        return Array.from(
          { length: 20 },
          () =>
            device.answer(
              envelope({ RequestType: 'InstallApplication', Identifier: 'com.example.app' }),
              view(),
            ).status,
        );
      };

      expect(draws('7')).toEqual(draws('7'));
      expect(draws('7')).not.toEqual(draws('8'));
    });

    it('answers NotNow for about the configured share of installs', () => {
      let notNow = 0;

      for (let device = 0; device < 400; device += 1) {
        const answer = responder(0.15).answer(
          envelope({ RequestType: 'InstallApplication', iTunesStoreID: 1 }),
          { ...view(), hardware: createHardware('ios', device, 'share') },
        );

        notNow += answer.status === 'NotNow' ? 1 : 0;
      }

      expect(notNow).toBeGreaterThan(30);
      expect(notNow).toBeLessThan(90);
    });
  });

  it('leaves Setup Assistant on DeviceConfigured', () => {
    const answer = responder().answer(
      envelope({ RequestType: 'DeviceConfigured' }),
      view({ awaitingConfiguration: true }),
    );

    expect(answer).toEqual({ status: 'Acknowledged', result: {}, effect: { kind: 'configured' } });
  });

  describe('EraseDevice with Return to Service', () => {
    const erase = (rts: PlistDict, platform: Platform = 'ios'): CommandAnswer =>
      responder().answer(
        envelope({ RequestType: 'EraseDevice', ReturnToService: rts }),
        view({ platform }),
      );

    it('joins the Wi-Fi from raw profile bytes and comes back through ADE', () => {
      const answer = erase({ Enabled: true, WiFiProfileData: wifi() });

      expect(answer.status).toBe('Acknowledged');
      expect(answer.effect).toEqual({
        kind: 'erase',
        plan: { returnToService: true, ssids: ['Store-Floor'] },
      });
    });

    it('is stranded by a Wi-Fi profile that was base64-encoded twice, after acknowledging', () => {
      const answer = erase({
        Enabled: true,
        WiFiProfileData: Buffer.from(wifi().toString('base64')),
      });

      expect(answer.status).toBe('Acknowledged');
      expect(answer.effect).toEqual({
        kind: 'erase',
        plan: expect.objectContaining({
          strandedBecause: expect.stringMatching(/base64.*encoded twice/),
        }),
      });
    });

    it('is stranded by unreadable Wi-Fi bytes', () => {
      const verdict = checkWifiProfileData(
        Buffer.from([1, 2, 3]),
        createHardware('ios', 0, 'spec'),
      );

      expect(verdict).toEqual({
        ok: false,
        reason: expect.stringMatching(/not a readable profile/),
      });
    });

    it('is stranded by a profile without a Wi-Fi payload', () => {
      const verdict = checkWifiProfileData(
        buildRestrictionsProfile(),
        createHardware('ios', 0, 'spec'),
      );

      expect(verdict).toEqual({
        ok: false,
        reason: expect.stringMatching(/no com.apple.wifi.managed/),
      });
    });

    it('needs Wi-Fi on an iPhone but not on an Apple TV with Ethernet', () => {
      expect(erase({ Enabled: true }).effect).toMatchObject({
        plan: { strandedBecause: expect.stringMatching(/no WiFiProfileData/) },
      });
      expect(erase({ Enabled: true }, 'tvos').effect).toEqual({
        kind: 'erase',
        plan: { returnToService: true, ssids: [] },
      });
    });

    it('keeps a readable MDMProfileData to enroll with', () => {
      const profile = enrollmentProfile();
      const answer = erase({ Enabled: true, WiFiProfileData: wifi(), MDMProfileData: profile });

      expect(answer.effect).toEqual({
        kind: 'erase',
        plan: { returnToService: true, ssids: ['Store-Floor'], mdmProfileData: profile },
      });
    });

    it('is stranded by an MDMProfileData it cannot enroll with', () => {
      const answer = erase({
        Enabled: true,
        WiFiProfileData: wifi(),
        MDMProfileData: buildRestrictionsProfile(),
      });

      expect(answer.effect).toMatchObject({
        plan: {
          strandedBecause: expect.stringMatching(
            /^MDMProfileData is not a usable enrollment profile/,
          ),
        },
      });
    });

    it('waits for a person after a plain erase', () => {
      const answer = responder().answer(envelope({ RequestType: 'EraseDevice' }), view());

      expect(answer.status).toBe('Acknowledged');
      expect(answer.effect).toMatchObject({
        plan: { returnToService: false, strandedBecause: expect.stringMatching(/Setup Assistant/) },
      });
    });
  });

  it('answers an unknown command with Error and an ErrorChain, never a crash', () => {
    const answer = responder().answer(
      envelope({ RequestType: 'EnableLostMode', Message: 'x' }),
      view(),
    );
    const report = onTheWire(answer);

    expect(answer.status).toBe('Error');
    expect(report.errorChain?.[0]?.localizedDescription).toBe(
      'RequestType EnableLostMode is not supported by this device',
    );
  });
});

/** A Wi-Fi profile whose payloads carry `extras` (one payload per entry). */
function wifiWith(...extras: PlistDict[]): Buffer {
  return encodePlistXml({
    PayloadType: 'Configuration',
    PayloadVersion: 1,
    PayloadIdentifier: 'io.turnaround.spec.wifi',
    PayloadUUID: '9A1A7F4E-2C1B-4A8E-9D55-0C1F4B7A2E11',
    PayloadContent: extras.map((extra, i) => ({
      PayloadType: 'com.apple.wifi.managed',
      PayloadVersion: 1,
      PayloadIdentifier: `io.turnaround.spec.wifi.${i}`,
      PayloadUUID: `9A1A7F4E-2C1B-4A8E-9D55-0C1F4B7A2E2${i}`,
      SSID_STR: `Floor-${i}`,
      EncryptionType: 'WPA2',
      Password: 'correct horse',
      AutoJoin: true,
      ...extra,
    })),
  });
}

const vision = (overrides: Partial<DeviceView> = {}): DeviceView =>
  view({ platform: 'visionos', appPreservationMode: true, ...overrides });

const install = (payload: Buffer) => envelope({ RequestType: 'InstallProfile', Payload: payload });

describe('CommandResponder on a Vision Pro', () => {
  it('reports the headset and has no Ethernet, so an erase without Wi-Fi strands it', () => {
    const answer = responder().answer(
      envelope({ RequestType: 'DeviceInformation', Queries: ['ProductName', 'EthernetMAC'] }),
      view({ platform: 'visionos' }),
    );

    expect(answer.result['QueryResponses']).toEqual({ ProductName: 'RealityDevice14,1' });
    expect(
      responder().answer(
        envelope({ RequestType: 'EraseDevice', ReturnToService: { Enabled: true } }),
        view({ platform: 'visionos' }),
      ).effect,
    ).toMatchObject({ plan: { strandedBecause: expect.stringMatching(/no WiFiProfileData/) } });
  });

  describe('AllowJoinBeforeFirstUnlock', () => {
    const joinEarly = { AllowJoinBeforeFirstUnlock: true };

    it('installs in app preservation mode and remembers the profile sets it', () => {
      const answer = responder().answer(
        install(
          buildWifiProfile({ ssid: 'Floor', password: 'pw', allowJoinBeforeFirstUnlock: true }),
        ),
        vision(),
      );

      expect(answer.status).toBe('Acknowledged');
      expect(answer.effect).toMatchObject({
        kind: 'profile-installed',
        profile: { identifier: 'io.turnaround.simulator.wifi', joinsBeforeFirstUnlock: true },
      });
    });

    it('fails to install outside app preservation mode', () => {
      const answer = responder().answer(
        install(wifiWith(joinEarly)),
        vision({ appPreservationMode: false }),
      );

      expect(answer.status).toBe('Error');
      expect(JSON.stringify(answer.result['ErrorChain'])).toMatch(/app preservation mode/);
    });

    it.each([
      ['an EAP configuration', { EAPClientConfiguration: { AcceptEAPTypes: [25] } }, /EAPClient/],
      ['a hotspot', { IsHotspot: true }, /IsHotspot/],
      ['a QoS marking policy', { QoSMarkingPolicy: {} }, /QoSMarkingPolicy/],
      ['a manual proxy', { ProxyType: 'Manual' }, /ProxyType Manual/],
    ])('fails to install with %s', (_, extra, reason) => {
      const answer = responder().answer(install(wifiWith({ ...joinEarly, ...extra })), vision());

      expect(answer.status).toBe('Error');
      expect(JSON.stringify(answer.result['ErrorChain'])).toMatch(reason);
    });

    it('fails to install with two payloads that set it, or a second profile that does', () => {
      const two = responder().answer(install(wifiWith(joinEarly, joinEarly)), vision());
      const second = responder().answer(
        install(wifiWith(joinEarly)),
        vision({
          profiles: [
            { identifier: 'io.example.other-wifi', uuid: 'U', joinsBeforeFirstUnlock: true },
          ],
        }),
      );

      expect(two.status).toBe('Error');
      expect(JSON.stringify(two.result['ErrorChain'])).toMatch(/more than one/);
      expect(second.status).toBe('Error');
      expect(JSON.stringify(second.result['ErrorChain'])).toMatch(/io.example.other-wifi/);
    });

    it('is an unknown key an iPhone ignores', () => {
      const answer = responder().answer(
        install(wifiWith({ ...joinEarly, ProxyType: 'Manual' })),
        view(),
      );

      expect(answer.status).toBe('Acknowledged');
    });

    it('strands the headset when the erase carries a Wi-Fi payload that breaks the rules', () => {
      const answer = responder().answer(
        envelope({
          RequestType: 'EraseDevice',
          ReturnToService: {
            Enabled: true,
            WiFiProfileData: wifiWith({ ...joinEarly, IsHotspot: true }),
          },
        }),
        vision(),
      );

      expect(answer.effect).toMatchObject({
        plan: { strandedBecause: expect.stringMatching(/IsHotspot.*stays offline/) },
      });
    });
  });

  describe('Settings with SharedDeviceConfiguration', () => {
    const timeout = (seconds: unknown, device = vision()) =>
      responder().answer(
        envelope({
          RequestType: 'Settings',
          Settings: [
            { Item: 'SharedDeviceConfiguration', TemporarySessionTimeout: seconds as number },
          ],
        }),
        device,
      );

    it('takes the idle timeout, and 0 to remove it', () => {
      expect(timeout(900)).toEqual({
        status: 'Acknowledged',
        result: { Settings: [{ Item: 'SharedDeviceConfiguration', Status: 'Acknowledged' }] },
        effect: { kind: 'settings', temporarySessionTimeout: 900 },
      });
      expect(timeout(0).effect).toEqual({ kind: 'settings', temporarySessionTimeout: 0 });
    });

    it('refuses a timeout below Apple minimum of 30 seconds, or negative', () => {
      for (const seconds of [10, -5]) {
        const answer = timeout(seconds);

        expect(answer.status).toBe('Error');
        expect(answer.effect).toEqual({ kind: 'none' });
        expect((answer.result['Settings'] as PlistDict[])[0]).toMatchObject({ Status: 'Error' });
      }
    });

    it('is refused by an iPhone, which is no Shared iPad', () => {
      const answer = timeout(900, view());

      expect(answer.status).toBe('Error');
      expect(JSON.stringify(answer.result)).toMatch(/Shared iPad and visionOS only/);
    });
  });
});

describe('CommandResponder with Activation Lock', () => {
  const lock = { locked: true, bypassCode: 'AAAAA-BBBBB-CCCCC-DDDDD-EEEEE' };

  it('reports the lock and hands out its current bypass code', () => {
    const info = responder().answer(
      envelope({ RequestType: 'DeviceInformation', Queries: ['IsActivationLockEnabled'] }),
      view({ activationLock: lock }),
    );
    const code = responder().answer(
      envelope({ RequestType: 'ActivationLockBypassCode' }),
      view({ activationLock: lock }),
    );

    expect(info.result['QueryResponses']).toEqual({ IsActivationLockEnabled: true });
    expect(code).toEqual({
      status: 'Acknowledged',
      result: { ActivationLockBypassCode: lock.bypassCode },
      effect: { kind: 'none' },
    });
    expect(onTheWire(code).status).toBe('Acknowledged');
  });

  it('has no bypass code on Apple TV', () => {
    const answer = responder().answer(
      envelope({ RequestType: 'ActivationLockBypassCode' }),
      view({ platform: 'tvos', activationLock: lock }),
    );

    expect(answer.status).toBe('Error');
  });
});

describe('CommandResponder in Return to Service with app preservation', () => {
  const pages = { RequestType: 'InstallApplication', iTunesStoreID: 361309726 } as const;
  const preserving = (overrides: Partial<DeviceView> = {}): DeviceView =>
    view({
      awaitingConfiguration: true,
      appPreservationMode: true,
      preservedApps: new Set(['com.apple.Pages', 'com.apple.Keynote']),
      apps: [
        { identifier: 'com.apple.Pages', state: 'Managed' },
        { identifier: 'com.apple.Keynote', state: 'Managed' },
      ],
      ...overrides,
    });

  it('acknowledges a kept app without a download while awaiting configuration', () => {
    const answer = responder().answer(envelope(pages), preserving());

    expect(answer.result).toEqual({ Identifier: 'com.apple.Pages', State: 'Managed' });
    expect(answer.effect).toMatchObject({ install: 'preserved' });
  });

  it('never puts off a kept app, which needs no download', () => {
    const device = responder(1);

    expect(device.answer(envelope(pages), preserving()).status).toBe('Acknowledged');
    expect(
      device.answer(
        envelope({ RequestType: 'InstallApplication', iTunesStoreID: 361304891 }),
        preserving(),
      ).status,
    ).toBe('NotNow');
  });

  it('queues a new app until DeviceConfigured', () => {
    const answer = responder().answer(
      envelope({ RequestType: 'InstallApplication', iTunesStoreID: 361304891 }),
      preserving(),
    );

    expect(answer.result).toEqual({ Identifier: 'com.apple.Numbers', State: 'Queued' });
    expect(answer.effect).toMatchObject({ install: 'after-configured' });
  });

  it('downloads every app after a full erase, and nothing for an app already there', () => {
    expect(
      responder().answer(envelope(pages), view({ awaitingConfiguration: true })).effect,
    ).toMatchObject({
      install: 'download',
    });
    expect(
      responder().answer(
        envelope(pages),
        view({ apps: [{ identifier: 'com.apple.Pages', state: 'Managed' }] }),
      ).effect,
    ).toMatchObject({ install: 'present' });
  });

  it('answers every command NotNow while it takes its snapshot', () => {
    const device = preserving({ awaitingConfiguration: false, snapshotting: true });

    const commands: (PlistDict & { RequestType: string })[] = [
      { RequestType: 'ManagedApplicationList' },
      { RequestType: 'DeviceInformation', Queries: ['UDID'] },
      { RequestType: 'DeviceConfigured' },
    ];

    for (const command of commands) {
      expect(responder().answer(envelope(command), device)).toEqual({
        status: 'NotNow',
        result: {},
        effect: { kind: 'none' },
      });
    }
  });

  it('reports an error for a second DeviceConfigured', () => {
    const answer = responder().answer(
      envelope({ RequestType: 'DeviceConfigured' }),
      view({ awaitingConfiguration: false }),
    );

    expect(answer.status).toBe('Error');
    expect(onTheWire(answer).errorChain?.[0]?.localizedDescription).toMatch(
      /not awaiting configuration/,
    );
  });

  it('takes the bootstrap token from the erase, and PreserveDataPlan only at the top level', () => {
    const token = Buffer.alloc(32, 7);
    const answer = responder().answer(
      envelope({
        RequestType: 'EraseDevice',
        PreserveDataPlan: true,
        ReturnToService: { Enabled: true, WiFiProfileData: wifi(), BootstrapToken: token },
      }),
      view(),
    );
    const misplaced = responder().answer(
      envelope({
        RequestType: 'EraseDevice',
        ReturnToService: { Enabled: true, WiFiProfileData: wifi(), PreserveDataPlan: true },
      }),
      view(),
    );

    expect(answer.effect).toEqual({
      kind: 'erase',
      plan: {
        returnToService: true,
        ssids: ['Store-Floor'],
        bootstrapToken: token,
        preserveDataPlan: true,
      },
    });
    expect(misplaced.effect).toEqual({
      kind: 'erase',
      plan: { returnToService: true, ssids: ['Store-Floor'] },
    });
  });
});
