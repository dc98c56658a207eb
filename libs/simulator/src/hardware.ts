import { seededHex, seededPick, seededText } from './random.js';

export const PLATFORMS = ['ios', 'ipados', 'tvos'] as const;

export type Platform = (typeof PLATFORMS)[number];

/** What a simulated device says about itself in Authenticate and DeviceInformation. */
export interface Hardware {
  platform: Platform;
  udid: string;
  serialNumber: string;
  productName: string;
  modelName: string;
  /** The part number DeviceInformation reports as `Model`. */
  model: string;
  deviceName: string;
  osVersion: string;
  buildVersion: string;
  wifiMac: string;
  bluetoothMac: string;
  /** Apple TV only: it can reach the network by cable after an erase. */
  ethernetMac?: string;
  /** Gigabytes, as DeviceInformation reports `DeviceCapacity`. */
  capacityGb: number;
  hasBattery: boolean;
}

interface PlatformModel {
  productName: string;
  modelName: string;
  model: string;
  deviceLabel: string;
  // Since the A12 generation a UDID is the chip id, a dash and 16 hex digits (25 characters).
  // Apple TV keeps the older 40-hex form here so that both forms cross the service.
  chipId?: string;
  releases: readonly (readonly [string, string])[];
  capacitiesGb: readonly number[];
  hasBattery: boolean;
  ethernet: boolean;
}

// OS releases are [version, build] pairs of the 26 generation; builds are plausible, not a
// promise that Apple shipped exactly these.
const MODELS: Record<Platform, PlatformModel> = {
  ios: {
    productName: 'iPhone17,1',
    modelName: 'iPhone',
    model: 'MYMJ3LL/A',
    deviceLabel: 'Shared iPhone',
    chipId: '00008140',
    releases: [
      ['26.0.1', '23A355'],
      ['26.1', '23B85'],
      ['26.2', '23C55'],
    ],
    capacitiesGb: [119.21, 238.42],
    hasBattery: true,
    ethernet: false,
  },
  ipados: {
    productName: 'iPad16,3',
    modelName: 'iPad',
    model: 'MVV83LL/A',
    deviceLabel: 'Shared iPad',
    chipId: '00008132',
    releases: [
      ['26.0.1', '23A355'],
      ['26.1', '23B85'],
      ['26.2', '23C55'],
    ],
    capacitiesGb: [238.42, 476.84],
    hasBattery: true,
    ethernet: false,
  },
  tvos: {
    productName: 'AppleTV14,1',
    modelName: 'Apple TV',
    model: 'MN893LL/A',
    deviceLabel: 'Lobby Apple TV',
    releases: [
      ['26.0', '23J354'],
      ['26.1', '23J582'],
    ],
    capacitiesGb: [119.21],
    hasBattery: false,
    ethernet: true,
  },
};

// Apple serial numbers since 2021: ten characters, no vowels that read like digits.
const SERIAL_ALPHABET = '0123456789BCDFGHJKLMNPQRSTVWXYZ';

function mac(seed: string, ...key: (string | number)[]): string {
  return (seededHex(12, seed, ...key).match(/../g) ?? []).join(':').toLowerCase();
}

/** The hardware of device number `index` of a run; the same seed gives the same devices. */
export function createHardware(platform: Platform, index: number, seed: string): Hardware {
  const model = MODELS[platform];
  const udid = model.chipId
    ? `${model.chipId}-${seededHex(16, seed, platform, index, 'udid')}`
    : seededHex(40, seed, platform, index, 'udid');
  const [osVersion, buildVersion] = seededPick(model.releases, seed, platform, index, 'os');
  const hardware: Hardware = {
    platform,
    udid,
    serialNumber: seededText(10, SERIAL_ALPHABET, seed, platform, index, 'serial'),
    productName: model.productName,
    modelName: model.modelName,
    model: model.model,
    deviceName: `${model.deviceLabel} ${String(index + 1).padStart(4, '0')}`,
    osVersion,
    buildVersion,
    wifiMac: mac(seed, platform, index, 'wifi'),
    bluetoothMac: mac(seed, platform, index, 'bluetooth'),
    capacityGb: seededPick(model.capacitiesGb, seed, platform, index, 'capacity'),
    hasBattery: model.hasBattery,
  };

  if (model.ethernet) {
    hardware.ethernetMac = mac(seed, platform, index, 'ethernet');
  }

  return hardware;
}
