import { machineInfoEnvelope, MachineInfoRefusedError } from './machine-info-rules.js';

const DER = Buffer.from([0x30, 0x82, 0x01, 0x00, 0x06, 0x09]);

function refusal(body: Buffer): string | undefined {
  try {
    machineInfoEnvelope(body);
  } catch (error) {
    return error instanceof MachineInfoRefusedError ? error.code : `unexpected ${String(error)}`;
  }

  return undefined;
}

describe('machineInfoEnvelope', () => {
  it('takes a DER envelope as it is', () => {
    expect(machineInfoEnvelope(DER)).toEqual(DER);
  });

  it('decodes base64 of the envelope, also when wrapped over lines', () => {
    const wrapped = DER.toString('base64').replace(/(.{4})/g, '$1\r\n');

    expect(machineInfoEnvelope(Buffer.from(wrapped))).toEqual(DER);
  });

  it.each([
    ['an XML plist', Buffer.from('<?xml version="1.0"?><plist><dict/></plist>')],
    ['an XML plist after a BOM and blank lines', Buffer.from('\ufeff\n\n<plist><dict/></plist>')],
    ['a binary plist', Buffer.from('bplist00\xd0\x08', 'latin1')],
    ['base64 of an XML plist', Buffer.from(Buffer.from('<plist><dict/></plist>').toString('base64'))],
  ])('refuses %s as unsigned (B24 c)', (_name, body) => {
    expect(refusal(body)).toBe('MACHINE_INFO.UNSIGNED');
  });

  it.each([
    ['an empty body', Buffer.alloc(0)],
    ['text', Buffer.from('not a MachineInfo')],
    ['base64 of text', Buffer.from(Buffer.from('hello').toString('base64'))],
  ])('refuses %s as malformed', (_name, body) => {
    expect(refusal(body)).toBe('MACHINE_INFO.MALFORMED');
  });
});
