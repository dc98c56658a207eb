import { createLogger, redirectLogs, serializeError } from './logger.js';

describe('serializeError', () => {
  it('keeps what explains a failed query and drops the values it carried', () => {
    const failed = Object.assign(new Error('value too long for type character varying(64)'), {
      code: '22001',
      query: 'UPDATE "enrollments" SET "pushMagic" = $1',
      parameters: ['push-magic-secret', 'dG9rZW4='],
      driverError: { parameters: ['push-magic-secret'] },
    });
    const serialized = serializeError(failed) as Record<string, unknown>;

    expect(serialized).toMatchObject({ message: 'value too long for type character varying(64)', code: '22001' });
    expect(JSON.stringify(serialized)).not.toContain('push-magic-secret');
    expect(JSON.stringify(serialized)).not.toContain('dG9rZW4=');
  });
});

describe('the logger', () => {
  let lines: Record<string, unknown>[];
  let restore: () => void;

  beforeEach(() => {
    lines = [];
    restore = redirectLogs({ write: (line) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  });

  afterEach(() => restore());

  it('censors secret fields on the line and up to two levels down, in objects and arrays', () => {
    createLogger('LoggerSpec').info(
      {
        udid: 'UDID-1',
        bootstrapToken: 'secret-0',
        wifi: { password: 'secret-1', ssid: 'Shift' },
        commands: [{ requestType: 'InstallProfile', payload: 'secret-2' }],
        cycle: { steps: { pushMagic: 'secret-3' }, deep: { deeper: { token: 'below-the-depth' } } },
      },
      'line with secrets',
    );

    const [line] = lines;
    expect(JSON.stringify(line)).not.toMatch(/secret-\d/);
    expect(line).toMatchObject({
      udid: 'UDID-1',
      bootstrapToken: '[redacted]',
      wifi: { password: '[redacted]', ssid: 'Shift' },
      commands: [{ requestType: 'InstallProfile', payload: '[redacted]' }],
      cycle: { steps: { pushMagic: '[redacted]' } },
    });
    // The depth is the documented one, not more: a field three levels down is logged as given.
    expect(line.cycle).toMatchObject({ deep: { deeper: { token: 'below-the-depth' } } });
  });

  it("never changes the caller's objects", () => {
    const wifi = { password: 'secret-1', ssid: 'Shift' };
    const fields = { wifi, apiKey: 'secret-2', list: [wifi] };

    createLogger('LoggerSpec').info(fields, 'line with secrets');

    expect(fields).toEqual({ wifi: { password: 'secret-1', ssid: 'Shift' }, apiKey: 'secret-2', list: [wifi] });
    expect(lines[0]).toMatchObject({ wifi: { password: '[redacted]' }, apiKey: '[redacted]' });
  });

  it('censors secrets that an error carries as its own properties', () => {
    const failed = Object.assign(new Error('refused'), { code: 'ESCROW.REFUSED', bypassCode: 'secret-1' });

    createLogger('LoggerSpec').error({ err: failed, udid: 'UDID-1' }, 'escrow refused');

    expect(JSON.stringify(lines[0])).not.toContain('secret-1');
    expect(lines[0]).toMatchObject({ err: { message: 'refused', code: 'ESCROW.REFUSED', bypassCode: '[redacted]' } });
  });
});
