import { seededFraction, seededHex, seededPick, seededText } from './random.js';

export const PLATFORMS = ['ios', 'ipados', 'tvos', 'visionos'] as const;

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
  /** MachineInfo `LANGUAGE`: the language Setup Assistant reuses after an erase. */
  language: string;
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
  /** Oldest first: the last one is the newest release of the platform. */
  releases: readonly OsRelease[];
  capacitiesGb: readonly number[];
  hasBattery: boolean;
  ethernet: boolean;
}

export type OsRelease = readonly [version: string, build: string];

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
  // Apple Vision Pro: Wi-Fi only (no Ethernet, no cellular), so every erase needs WiFiProfileData.
  visionos: {
    productName: 'RealityDevice14,1',
    modelName: 'Apple Vision Pro',
    model: 'MW8X3LL/A',
    deviceLabel: 'Shared Vision Pro',
    chipId: '00008112',
    releases: [
      ['26.0', '23M336'],
      ['26.1', '23N49'],
      ['26.2', '23N301'],
    ],
    capacitiesGb: [238.42, 476.84, 953.67],
    hasBattery: true,
    ethernet: false,
  },
};

// Apple serial numbers since 2021: ten characters, no vowels that read like digits.
const SERIAL_ALPHABET = '0123456789BCDFGHJKLMNPQRSTVWXYZ';

function mac(seed: string, ...key: (string | number)[]): string {
  return (seededHex(12, seed, ...key).match(/../g) ?? []).join(':').toLowerCase();
}

/** The newest OS release the simulator knows for the platform. */
export function newestRelease(platform: Platform): OsRelease {
  const releases = MODELS[platform].releases;

  return releases[releases.length - 1] as OsRelease;
}

/** The build of a known release of the platform, if the simulator knows it. */
export function buildOf(platform: Platform, version: string): string | undefined {
  return MODELS[platform].releases.find(([known]) => known === version)?.[1];
}

export interface HardwareOptions {
  /**
   * Share of devices, 0 to 1, that start on an older release than the newest; the others run
   * the newest. Drawn from the seed, so the same devices are outdated in every run.
   */
  outdatedShare?: number;
}

/** The hardware of device number `index` of a run; the same seed gives the same devices. */
export function createHardware(
  platform: Platform,
  index: number,
  seed: string,
  options: HardwareOptions = {},
): Hardware {
  const model = MODELS[platform];
  const udid = model.chipId
    ? `${model.chipId}-${seededHex(16, seed, platform, index, 'udid')}`
    : seededHex(40, seed, platform, index, 'udid');
  const outdated =
    options.outdatedShare !== undefined &&
    seededFraction(seed, platform, index, 'outdated') < options.outdatedShare;
  const [osVersion, buildVersion] = outdated
    ? seededPick(model.releases.slice(0, -1), seed, platform, index, 'os')
    : newestRelease(platform);
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
    language: 'en-US',
  };

  if (model.ethernet) {
    hardware.ethernetMac = mac(seed, platform, index, 'ethernet');
  }

  return hardware;
}
