import { serializeError } from './logger.js';

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
