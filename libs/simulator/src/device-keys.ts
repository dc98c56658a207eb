import { generateKeyPair, KeyObject } from 'node:crypto';

/** Where simulated devices get the key pair they enroll an identity for. */
export interface DeviceKeySource {
  /** An RSA private key of `bits` bits. */
  take(bits: number): Promise<KeyObject>;
}

/** A new key pair per enrollment, made off the event loop, as a device makes its own. */
export const freshDeviceKeys: DeviceKeySource = { take: generateRsaKey };

/**
 * Keys made before the load starts, handed out in turn (a key may serve several enrollments).
 * A real device's key generation is the device's cost, not the service's, and a load generator
 * that made thousands of RSA keys while measuring would measure itself. The service's work is
 * the same for a reused key: it signs a request for it. A size the pool does not hold is made
 * fresh.
 */
export class DeviceKeyPool implements DeviceKeySource {
  private next = 0;

  private constructor(
    private readonly keys: readonly KeyObject[],
    private readonly bits: number,
  ) {}

  /** Makes `size` keys of `bits` bits, several at once on libuv's thread pool. */
  static async create(size: number, bits = 2048): Promise<DeviceKeyPool> {
    if (!Number.isInteger(size) || size < 1) {
      throw new RangeError(`a key pool holds at least one key, not ${size}`);
    }

    return new DeviceKeyPool(
      await Promise.all(Array.from({ length: size }, () => generateRsaKey(bits))),
      bits,
    );
  }

  get size(): number {
    return this.keys.length;
  }

  take(bits: number): Promise<KeyObject> {
    if (bits !== this.bits) {
      return generateRsaKey(bits);
    }

    const key = this.keys[this.next % this.keys.length]!;
    this.next += 1;

    return Promise.resolve(key);
  }
}

function generateRsaKey(bits: number): Promise<KeyObject> {
  return new Promise((resolve, reject) => {
    generateKeyPair('rsa', { modulusLength: bits }, (error, _publicKey, privateKey) => {
      if (error) {
        reject(error);
      } else {
        resolve(privateKey);
      }
    });
  });
}
