import { parseCheckIn } from './checkin.js';
import {
  DECLARATION_KINDS,
  readDeclarativeStatusReport,
  type DeclarativeStatusReport,
} from './ddm-status.js';
import type { JsonObject } from './json-access.js';
import { expectProtocolError } from './testing/expect-error.js';
import { listFixtures, readFixture } from './testing/fixtures.js';
import { countRefusedMutations } from './testing/json-mutations.js';

const report = (name: string): DeclarativeStatusReport =>
  readDeclarativeStatusReport(readFixture('ddm', name));

const text = (value: JsonObject): string => JSON.stringify(value);

describe('readDeclarativeStatusReport on the real reports', () => {
  it('reads every DDM fixture', () => {
    const summary = listFixtures('ddm').map((name) => {
      const parsed = report(name);

      return [
        name,
        DECLARATION_KINDS.map((kind) => parsed.declarations?.[kind].count),
        parsed.clientCapabilities?.supportedVersions,
        parsed.errors.length,
      ];
    });

    expect(summary).toEqual([
      ['status-report-ios16-invalid-configurations.json', [1, 3, 0, 1], ['1.0.0'], 0],
      ['status-report-macos13-first.json', [0, 0, 0, 0], ['1.0.0'], 0],
      ['status-report-macos13-full.json', [1, 2, 0, 0], ['1.0.0'], 0],
    ]);
  });

  it('lists the invalid iOS 16 configurations with their reasons', () => {
    const configurations = report('status-report-ios16-invalid-configurations.json').declarations
      ?.configurations;

    expect(configurations).toMatchObject({
      count: 3,
      valid: 1,
      invalid: 2,
      active: 3,
      inactive: 0,
    });
    expect(
      configurations?.declarations
        .filter((declaration) => declaration.valid === 'invalid')
        .map(({ identifier, serverToken, reasons }) => ({
          identifier,
          serverToken,
          reasons: reasons.map(({ raw: _raw, ...reason }) => reason),
        })),
    ).toEqual([
      {
        identifier: '0FCD2F56-D5BC-48EA-B98D-E0CCC0C6F9E0',
        serverToken: '2c8e5ce2-f7ba-5381-bce0-7d9c60f8c092',
        reasons: [
          {
            code: 'Error.ConfigurationCannotBeApplied',
            description: 'Configuration cannot be applied',
            details: { Error: 'An internal error has occurred.' },
          },
        ],
      },
      {
        identifier: '4D6F8451-C089-4E65-A615-7C6EFF154F72',
        serverToken: 'ff4051a7-0ac2-517f-a54d-b5522289a85b',
        reasons: [
          {
            code: 'Error.ConfigurationCannotBeApplied',
            description: 'Configuration cannot be applied',
            details: { Error: 'Profile Installation Failed' },
          },
        ],
      },
    ]);
  });

  it('counts the inactive iOS 16 management declaration and keeps push-token as sent', () => {
    const parsed = report('status-report-ios16-invalid-configurations.json');

    expect(parsed.declarations?.management).toMatchObject({
      count: 1,
      valid: 1,
      active: 0,
      inactive: 1,
    });
    expect(parsed.declarations?.management.declarations[0]?.identifier).toBe(
      'AF0E633E-7ADB-4B2A-A48C-1B20AA271D08',
    );
    expect(parsed.declarations?.assets).toEqual({
      count: 0,
      valid: 0,
      invalid: 0,
      active: 0,
      inactive: 0,
      declarations: [],
    });
    expect(parsed.statusItems['management']).toMatchObject({
      'push-token': 'V4OZHJLQ+DnuBOzhpfQtag5S4gRY3joLP4MjEDEJ/Kg=',
    });
    expect(parsed.clientCapabilities?.supportedFeatures).toEqual({});
    expect(parsed.clientCapabilities?.supportedPayloads?.['status-items']).toContain(
      'passcode.is-compliant',
    );
    expect(parsed.fullReport).toBeUndefined();
  });

  it('reads the first macOS report: nothing declared yet, device items kept as sent', () => {
    const parsed = report('status-report-macos13-first.json');

    expect(parsed.errors).toEqual([]);
    expect(parsed.statusItems['device']).toMatchObject({
      identifier: { udid: '0000FE00-1272FAACB827E57D', 'serial-number': 'CYECBBXDVA' },
      'operating-system': { supplemental: { 'extra-version': '(a)' }, version: '13.3.1' },
    });
  });

  it('reads the full macOS report with a numeric-looking server token', () => {
    const configurations = report('status-report-macos13-full.json').declarations?.configurations;

    expect(configurations).toMatchObject({ count: 2, valid: 2, invalid: 0, active: 2 });
    expect(configurations?.declarations[0]).toMatchObject({
      identifier: 'zentral.blueprint.1.management-status-subscriptions',
      serverToken: '2',
      active: true,
      valid: 'valid',
      reasons: [],
    });
  });

  it('reads the Data of a real status check-in', () => {
    const message = parseCheckIn(
      readFixture('checkin', 'declarativemanagement-status-ios-jamf-school.plist'),
    );

    if (message.messageType !== 'DeclarativeManagement' || message.data === undefined) {
      throw new Error('fixture is not a status check-in with Data');
    }

    const parsed = readDeclarativeStatusReport(message.data);

    expect(parsed).toEqual({
      statusItems: { passcode: { 'is-compliant': true } },
      errors: [],
      raw: { StatusItems: { passcode: { 'is-compliant': true } }, Errors: [] },
    });
  });

  it('reads text and BOM-prefixed bytes the same as plain bytes', () => {
    const bytes = readFixture('ddm', 'status-report-macos13-full.json');
    const withBom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), bytes]);

    expect(readDeclarativeStatusReport(bytes.toString('utf8'))).toEqual(
      readDeclarativeStatusReport(bytes),
    );
    expect(readDeclarativeStatusReport(withBom)).toEqual(readDeclarativeStatusReport(bytes));
  });
});

describe('readDeclarativeStatusReport Errors and partial reports', () => {
  it('reads status items the device could not report, with a one-line error', () => {
    const parsed = readDeclarativeStatusReport(
      text({
        StatusItems: {},
        Errors: [
          {
            StatusItem: 'device.model.marketing-name',
            Reasons: [
              { Code: 'Error.Unavailable', Description: 'Not available', Details: { n: 1 } },
              { Code: 'Error.Other' },
            ],
          },
          { StatusItem: 'softwareupdate.failure-reason' },
        ],
      }),
    );

    expect(parsed.errors.map(({ path, error }) => ({ path, error }))).toEqual([
      {
        path: 'device.model.marketing-name',
        error: 'Error.Unavailable: Not available; Error.Other',
      },
      { path: 'softwareupdate.failure-reason', error: 'no reason given' },
    ]);
    expect(parsed.errors[0]?.reasons[0]).toMatchObject({
      code: 'Error.Unavailable',
      description: 'Not available',
      details: { n: 1 },
    });
  });

  it('reads a reason written in the other spelling', () => {
    const parsed = readDeclarativeStatusReport(
      text({
        StatusItems: {},
        Errors: [{ StatusItem: 'a.b', Reasons: [{ code: 'Error.Lower', description: 'x' }] }],
      }),
    );

    expect(parsed.errors[0]?.error).toBe('Error.Lower: x');
  });

  it('reads an incremental report without management items or Errors', () => {
    const parsed = readDeclarativeStatusReport(
      text({ StatusItems: { passcode: { 'is-present': false } }, FullReport: false }),
    );

    expect(parsed).toEqual({
      statusItems: { passcode: { 'is-present': false } },
      errors: [],
      fullReport: false,
      raw: expect.any(Object),
    });
  });
});

describe('readDeclarativeStatusReport on hostile input', () => {
  const malformed = (input: unknown): string =>
    expectProtocolError(() => readDeclarativeStatusReport(input as Uint8Array), 'DDM.MALFORMED')
      .message;

  it('refuses bodies that are not a JSON object', () => {
    for (const body of ['', 'null', '[]', '"StatusItems"', '42', '{"StatusItems":', '{,}']) {
      malformed(body);
    }
    malformed(Buffer.from([0x7b, 0xc3, 0x28, 0x7d]));
  });

  it('refuses inputs that are neither bytes nor text', () => {
    for (const input of [undefined, null, 42, {}, { StatusItems: {} }, [new Uint8Array(1)]]) {
      expect(malformed(input)).toContain('bytes or text');
    }
  });

  it('names the member that has the wrong type', () => {
    const declarations = (value: unknown): string =>
      malformed(text({ StatusItems: { management: { declarations: value } } } as JsonObject));

    expect(malformed('{}')).toContain('StatusItems');
    expect(malformed(text({ StatusItems: [] }))).toContain('StatusItems');
    expect(malformed(text({ StatusItems: { management: [] } }))).toContain('management');
    expect(declarations(null)).toContain('declarations');
    expect(declarations({ configurations: {} })).toContain('configurations');
    expect(declarations({ configurations: [null] })).toContain('configurations[0]');
    expect(declarations({ assets: [{ active: true }] })).toContain(
      'assets[0]: the required key identifier',
    );
    expect(declarations({ management: [{ identifier: 'm', active: 'true' }] })).toContain(
      'management[0]: active',
    );
    expect(declarations({ activations: [{ identifier: 'a', reasons: {} }] })).toContain('reasons');
    expect(declarations({ activations: [{ identifier: 'a', reasons: [{}] }] })).toContain(
      'reasons[0]: the required key code',
    );
    expect(malformed(text({ StatusItems: {}, Errors: {} }))).toContain('Errors');
    expect(malformed(text({ StatusItems: {}, Errors: [{}] }))).toContain('StatusItem');
    expect(malformed(text({ StatusItems: {}, FullReport: 'yes' }))).toContain('FullReport');
  });

  it('never lets anything but DDM.MALFORMED escape for any one member replaced', () => {
    for (const name of listFixtures('ddm')) {
      const document = JSON.parse(readFixture('ddm', name).toString('utf8')) as JsonObject;
      const refused = countRefusedMutations(
        document,
        (mutated) => readDeclarativeStatusReport(JSON.stringify(mutated)),
        'DDM.MALFORMED',
      );

      expect(refused).toBeGreaterThan(0);
    }
  });
});
