import { randomUUID } from 'node:crypto';

import { Injectable } from '@nestjs/common';

import { createLogger } from '@turnaround/platform';
import { inspectWifiPayloads, parseProfile, readAdeProfile } from '@turnaround/protocol';

import { AdeAssignment } from '../domain/mdm-profile-rule.js';
import { OsPolicy, readOsPolicy } from '../domain/os-policy.js';
import { readPlan, ProvisioningPlan } from '../domain/plan.js';
import { readTemporarySessionTimeout } from '../domain/session-timeout.js';
import { checkReturnToServiceWifi } from '../domain/wifi-rules.js';
import { ProvisioningError } from '../domain/provisioning.errors.js';
import { ProvisioningRepository, RtsConfiguration } from '../data-access/provisioning.repository.js';

export interface RtsConfigurationInput {
  name?: unknown;
  wifiProfile?: unknown;
  enrollmentProfile?: unknown;
  ade?: unknown;
  plan?: unknown;
  preserveApps?: unknown;
  preserveDataPlan?: unknown;
  temporarySessionTimeout?: unknown;
  osPolicy?: unknown;
}

/** What the admin API shows of a configuration: never the profile bytes (they hold secrets). */
export interface RtsConfigurationView {
  id: string;
  name: string;
  wifi: { ssids: string[]; allowJoinBeforeFirstUnlock: boolean; warnings: string[] } | null;
  enrollmentProfile: boolean;
  ade: AdeAssignment | null;
  plan: { profiles: string[]; apps: ProvisioningPlan['apps'] };
  preserveApps: boolean;
  preserveDataPlan: boolean;
  temporarySessionTimeout: number | null;
  osPolicy: OsPolicy | null;
  createdAt: string;
  updatedAt: string;
}

const CONFIGURATION_FIELDS = ['name', 'wifiProfile', 'enrollmentProfile', 'ade', 'plan', 'preserveApps', 'preserveDataPlan', 'temporarySessionTimeout', 'osPolicy'];

@Injectable()
export class RtsConfigurationService {
  private readonly logger = createLogger('RtsConfigurationService');

  constructor(private readonly repository: ProvisioningRepository) {}

  /**
   * Creates or replaces a configuration. Two requests creating the same new name at once: the
   * loser of the unique name finds the winner's row on its second try and replaces it.
   */
  async save(input: RtsConfigurationInput): Promise<RtsConfigurationView> {
    try {
      return await this.saveOnce(input);
    } catch (error) {
      if (!isUniqueViolation(error)) {
        throw error;
      }

      return this.saveOnce(input);
    }
  }

  private async saveOnce(input: RtsConfigurationInput): Promise<RtsConfigurationView> {
    // A misspelt field would otherwise be dropped in silence and its setting left at the default.
    const unknown = Object.keys(input).filter((field) => !CONFIGURATION_FIELDS.includes(field));
    if (unknown.length > 0) {
      throw new ProvisioningError('CONFIGURATION.INVALID', `unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((field) => JSON.stringify(field.slice(0, 64))).join(', ')}; a configuration takes ${CONFIGURATION_FIELDS.join(', ')}`);
    }
    if (typeof input.name !== 'string' || !/^[A-Za-z0-9](?:[A-Za-z0-9 ._-]{0,126}[A-Za-z0-9._-])?$/.test(input.name)) {
      throw new ProvisioningError('CONFIGURATION.INVALID', 'name must be 1-128 letters, digits, inner spaces, dots, dashes or underscores');
    }
    const preserveApps = optionalFlag(input.preserveApps, 'preserveApps');
    const preserveDataPlan = optionalFlag(input.preserveDataPlan, 'preserveDataPlan');
    const temporarySessionTimeout = readTemporarySessionTimeout(input.temporarySessionTimeout);
    const osPolicy = input.osPolicy === undefined || input.osPolicy === null ? null : readOsPolicy(input.osPolicy);
    const wifiProfile = optionalProfile(input.wifiProfile, 'wifiProfile');
    if (wifiProfile) {
      checkWifiProfile(wifiProfile, preserveApps);
    }
    const enrollmentProfile = optionalProfile(input.enrollmentProfile, 'enrollmentProfile');
    if (enrollmentProfile) {
      const payloads = parseProfile(enrollmentProfile).payloads;
      if (!payloads.some((payload) => payload.payloadType === 'com.apple.mdm')) {
        throw new ProvisioningError('CONFIGURATION.INVALID', 'enrollmentProfile has no com.apple.mdm payload');
      }
      // One stored profile goes to every device of the configuration: a PKCS#12 identity inside
      // it would give them all the same certificate. It needs SCEP or ACME instead; leave the
      // profile out and the service issues each device its own.
      if (payloads.some((payload) => payload.payloadType === 'com.apple.security.pkcs12')) {
        throw new ProvisioningError('CONFIGURATION.INVALID', 'enrollmentProfile holds a PKCS#12 identity that every device would share; use a SCEP or ACME payload, or leave enrollmentProfile out');
      }
    }
    const plan = readPlan(input.plan);
    for (const profile of plan.profiles) {
      parseOrRefuse(Buffer.from(profile.payload, 'base64'), `plan profile ${profile.name}`);
    }
    const existing = await this.repository.findConfiguration(input.name);
    const now = new Date();
    const entity: RtsConfiguration = {
      id: existing?.id ?? randomUUID(),
      name: input.name,
      wifiProfile: wifiProfile?.toString('base64') ?? null,
      enrollmentProfile: enrollmentProfile?.toString('base64') ?? null,
      ade: input.ade === undefined || input.ade === null ? null : JSON.stringify(readAde(input.ade)),
      plan: JSON.stringify(plan),
      preserveApps,
      preserveDataPlan,
      temporarySessionTimeout,
      osPolicy: osPolicy ? JSON.stringify(osPolicy) : null,
      createdAt: existing?.createdAt ?? now,
      updatedAt: now,
    };
    await this.repository.saveConfiguration(entity);
    this.logger.info({ configuration: entity.name, id: entity.id, created: !existing }, 'RTS configuration saved');

    return view(entity);
  }

  async list(): Promise<RtsConfigurationView[]> {
    return (await this.repository.listConfigurations()).map(view);
  }

  async get(name: string): Promise<RtsConfigurationView> {
    const entity = await this.repository.findConfiguration(name);
    if (!entity) {
      throw new ProvisioningError('CONFIGURATION.NOT_FOUND', `no RTS configuration named ${name}`);
    }

    return view(entity);
  }
}

function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown; driverError?: { code?: unknown } }).driverError?.code ?? (error as { code?: unknown }).code;

  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE';
}

function optionalProfile(value: unknown, field: string): Buffer | null {
  if (value === undefined || value === null) {
    return null;
  }
  if (typeof value !== 'string' || !/^[A-Za-z0-9+/\s]*={0,2}\s*$/.test(value)) {
    throw new ProvisioningError('CONFIGURATION.INVALID', `${field} must be the profile's bytes, base64-encoded once`);
  }
  const bytes = Buffer.from(value, 'base64');
  // A profile that was base64-encoded twice decodes to base64 text of "<?xml" (B02).
  if (bytes.subarray(0, 4).toString('latin1') === 'PD94') {
    throw new ProvisioningError('CONFIGURATION.INVALID', `${field} is base64-encoded twice; send the profile's bytes encoded once`);
  }
  parseOrRefuse(bytes, field);

  return bytes;
}

function parseOrRefuse(bytes: Buffer, field: string): ReturnType<typeof parseProfile> {
  try {
    return parseProfile(bytes);
  } catch (error) {
    throw new ProvisioningError('CONFIGURATION.INVALID', `${field} is not a readable configuration profile: ${(error as Error).message}`);
  }
}

/**
 * The Wi-Fi profile must bring the device online with nobody there (B03), and a payload that joins
 * before first unlock must meet Apple's six conditions, or the device refuses to install it. Every
 * broken rule is named, so the operator fixes the profile once.
 */
function checkWifiProfile(bytes: Buffer, preserveApps: boolean): void {
  const { violations } = checkReturnToServiceWifi(bytes, { preserveApps });
  if (violations.length > 0) {
    throw new ProvisioningError(
      'CONFIGURATION.INVALID',
      `wifiProfile breaks ${violations.length === 1 ? 'a rule' : `${violations.length} rules`}: ${violations.map((violation) => `[${violation.rule}] ${violation.message}`).join('; ')}`,
      { violations },
    );
  }
}

function optionalFlag(value: unknown, field: string): boolean {
  if (value === undefined || value === null) {
    return false;
  }
  if (typeof value !== 'boolean') {
    throw new ProvisioningError('CONFIGURATION.INVALID', `${field} must be true or false`);
  }

  return value;
}

/**
 * The ADE assignment of the configuration's devices: either Apple's own profile JSON (as the
 * Device Assignment service returns or takes it), or just the two facts that matter here.
 * `urlRequiresAuthentication` is ours: Apple's profile cannot say that its url asks for a login.
 */
function readAde(value: unknown): AdeAssignment {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ProvisioningError('CONFIGURATION.INVALID', 'ade must be an object');
  }
  const ade = value as Record<string, unknown>;
  const result: AdeAssignment = {};
  let webUrl: unknown = ade.configuration_web_url ?? ade.configurationWebUrl;
  if ('profile_name' in ade) {
    try {
      webUrl = readAdeProfile(ade).configurationWebUrl;
    } catch (error) {
      throw new ProvisioningError('CONFIGURATION.INVALID', `ade is not a readable ADE profile: ${(error as Error).message}`);
    }
  }
  if (webUrl !== undefined && webUrl !== null && webUrl !== '') {
    // Profiles in the wild carry scheme-less values ("sso.example.com/..."); only a scheme other
    // than http(s) is refused, since the device would open it in Setup Assistant.
    if (typeof webUrl !== 'string' || (/^[a-z][a-z0-9+.-]*:/i.test(webUrl) && !/^https?:\/\//i.test(webUrl))) {
      throw new ProvisioningError('CONFIGURATION.INVALID', 'ade.configuration_web_url must be an http(s) URL');
    }
    result.configurationWebUrl = webUrl;
  }
  if (ade.urlRequiresAuthentication !== undefined) {
    if (typeof ade.urlRequiresAuthentication !== 'boolean') {
      throw new ProvisioningError('CONFIGURATION.INVALID', 'ade.urlRequiresAuthentication must be a boolean');
    }
    result.urlRequiresAuthentication = ade.urlRequiresAuthentication;
  }

  return result;
}

function view(entity: RtsConfiguration): RtsConfigurationView {
  const plan = readPlan(JSON.parse(entity.plan));
  const wifi = entity.wifiProfile ? Buffer.from(entity.wifiProfile, 'base64') : null;
  const wifiCheck = wifi ? checkReturnToServiceWifi(wifi, { preserveApps: entity.preserveApps }) : null;

  return {
    id: entity.id,
    name: entity.name,
    wifi:
      wifi && wifiCheck
        ? {
            ssids: inspectWifiPayloads(parseProfile(wifi)).map((payload) => payload.ssid ?? ''),
            allowJoinBeforeFirstUnlock: wifiCheck.allowJoinBeforeFirstUnlock,
            warnings: wifiCheck.warnings.map((warning) => (typeof warning === 'string' ? warning : warning.message)),
          }
        : null,
    enrollmentProfile: entity.enrollmentProfile !== null,
    ade: entity.ade ? (JSON.parse(entity.ade) as AdeAssignment) : null,
    plan: { profiles: plan.profiles.map((profile) => profile.name), apps: plan.apps },
    preserveApps: entity.preserveApps,
    preserveDataPlan: entity.preserveDataPlan,
    temporarySessionTimeout: entity.temporarySessionTimeout,
    osPolicy: entity.osPolicy ? (JSON.parse(entity.osPolicy) as OsPolicy) : null,
    createdAt: entity.createdAt.toISOString(),
    updatedAt: entity.updatedAt.toISOString(),
  };
}
