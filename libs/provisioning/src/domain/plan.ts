import { ProvisioningError } from './provisioning.errors.js';

/** An app to install while the device awaits configuration. */
export interface PlannedApp {
  identifier?: string;
  iTunesStoreID?: number;
  manifestURL?: string;
}

export interface PlannedProfile {
  name: string;
  /** The .mobileconfig bytes, base64. */
  payload: string;
}

/** What runs between re-enrollment and DeviceConfigured. */
export interface ProvisioningPlan {
  profiles: PlannedProfile[];
  apps: PlannedApp[];
}

/** Reads a plan from API input, refusing anything that would build a malformed command. */
export function readPlan(input: unknown): ProvisioningPlan {
  if (input === undefined || input === null) {
    return { profiles: [], apps: [] };
  }
  if (typeof input !== 'object' || Array.isArray(input)) {
    throw invalid('plan must be an object with profiles and apps');
  }
  const { profiles = [], apps = [] } = input as { profiles?: unknown; apps?: unknown };
  if (!Array.isArray(profiles) || !Array.isArray(apps)) {
    throw invalid('plan.profiles and plan.apps must be arrays');
  }

  return {
    profiles: profiles.map((profile, index) => readProfile(profile, `plan.profiles[${index}]`)),
    apps: apps.map((app, index) => readApp(app, `plan.apps[${index}]`)),
  };
}

function readProfile(value: unknown, path: string): PlannedProfile {
  const profile = value as Partial<PlannedProfile> | null;
  if (!profile || typeof profile.name !== 'string' || typeof profile.payload !== 'string') {
    throw invalid(`${path} needs a name and a base64 payload`);
  }

  return { name: profile.name, payload: profile.payload };
}

function readApp(value: unknown, path: string): PlannedApp {
  const app = value as Record<string, unknown> | null;
  if (!app || typeof app !== 'object') {
    throw invalid(`${path} must be an object`);
  }
  const result: PlannedApp = {};
  if (app.identifier !== undefined) {
    if (typeof app.identifier !== 'string' || app.identifier === '') {
      throw invalid(`${path}.identifier must be a bundle identifier`);
    }
    result.identifier = app.identifier;
  }
  if (app.iTunesStoreID !== undefined) {
    // Admin tools often send numeric ids as strings (B03 e): accept digits, refuse the rest.
    const id = typeof app.iTunesStoreID === 'string' && /^\d+$/.test(app.iTunesStoreID) ? Number(app.iTunesStoreID) : app.iTunesStoreID;
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id <= 0) {
      throw invalid(`${path}.iTunesStoreID must be a positive integer`);
    }
    result.iTunesStoreID = id;
  }
  if (app.manifestURL !== undefined) {
    if (typeof app.manifestURL !== 'string' || !/^https:\/\//.test(app.manifestURL)) {
      throw invalid(`${path}.manifestURL must be an https URL`);
    }
    result.manifestURL = app.manifestURL;
  }
  // InstallApplication takes exactly one source (Apple's schema): a store id, a bundle
  // identifier of a licensed App Store app, or an enterprise manifest.
  const sources = [result.iTunesStoreID, result.manifestURL, result.identifier].filter((source) => source !== undefined);
  if (sources.length !== 1) {
    throw invalid(`${path} needs exactly one of iTunesStoreID, identifier or manifestURL`);
  }

  return result;
}

function invalid(message: string): ProvisioningError {
  return new ProvisioningError('CONFIGURATION.INVALID', message);
}
