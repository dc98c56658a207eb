export type MachineInfoRefusal = 'MACHINE_INFO.MALFORMED' | 'MACHINE_INFO.UNSIGNED' | 'MACHINE_INFO.SIGNATURE_INVALID';

/** A MachineInfo body this service will not enroll from; devices get a 400 naming the code. */
export class MachineInfoRefusedError extends Error {
  constructor(
    readonly code: MachineInfoRefusal,
    message: string,
  ) {
    super(message);
  }
}

const DER_SEQUENCE = 0x30;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * The DER CMS envelope of a MachineInfo body. Devices POST the DER itself; some clients send
 * base64 of it, as the web-view header carries it (B24). A bare plist, raw or base64, is refused:
 * nothing vouches for what it says (B24 c).
 */
export function machineInfoEnvelope(body: Uint8Array): Buffer {
  const bytes = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (bytes.length === 0) {
    throw new MachineInfoRefusedError('MACHINE_INFO.MALFORMED', 'the body is empty; expected the CMS-signed MachineInfo');
  }
  if (bytes[0] === DER_SEQUENCE) {
    return bytes;
  }

  // Line-wrapped base64 is still base64.
  const text = bytes.toString('latin1').replace(/\s+/g, '');
  const decoded = BASE64.test(text) ? Buffer.from(text, 'base64') : undefined;
  if (decoded?.[0] === DER_SEQUENCE) {
    return decoded;
  }
  if (isPlist(decoded ?? bytes)) {
    throw new MachineInfoRefusedError('MACHINE_INFO.UNSIGNED', 'MachineInfo must be CMS SignedData; a bare plist is refused');
  }

  throw new MachineInfoRefusedError('MACHINE_INFO.MALFORMED', 'the body is neither CMS SignedData (DER) nor base64 of it');
}

function isPlist(bytes: Buffer): boolean {
  const text = bytes.subarray(0, 64).toString('latin1').replace(/^\u00ef\u00bb\u00bf/, '').trimStart();

  return text.startsWith('<') || text.startsWith('bplist');
}
