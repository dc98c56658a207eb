import { Body, Controller, Get, HttpCode, Param, Post, Put, UseFilters, UseGuards } from '@nestjs/common';

import { ProvisioningError } from '../domain/provisioning.errors.js';
import { AdminApiGuard } from './admin-api.guard.js';
import { AdminExceptionFilter } from './admin-exception.filter.js';
import { DeviceAssignmentService } from './device-assignment.service.js';
import type { AssignmentResult } from './device-assignment.service.js';
import { DeviceQueryService } from './device-query.service.js';
import { ReturnToServiceService } from './return-to-service.service.js';
import type { TriggerResult } from './return-to-service.service.js';
import { RtsConfigurationService } from './rts-configuration.service.js';
import type { RtsConfigurationInput, RtsConfigurationView } from './rts-configuration.service.js';

/** Path parameters that cannot name anything we store (too long, control characters). */
const STORABLE_KEY = /^[\x21-\x7e][\x20-\x7e]{0,127}$/;

function key(value: string, code: 'DEVICE.NOT_FOUND' | 'CYCLE.NOT_FOUND' | 'CONFIGURATION.NOT_FOUND'): string {
  if (!STORABLE_KEY.test(value)) {
    throw new ProvisioningError(code, `nothing is stored under ${JSON.stringify(value.slice(0, 80))}`);
  }

  return value;
}

/**
 * A request body must be a JSON object: an absent or non-JSON body (express leaves it undefined)
 * must never read as "everything empty" and wipe a configuration.
 */
function jsonObject(body: unknown): RtsConfigurationInput {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ProvisioningError('REQUEST.INVALID', 'the body must be a JSON object sent with Content-Type: application/json');
  }

  return body as RtsConfigurationInput;
}

function deviceList(devices: unknown): string[] {
  if (!Array.isArray(devices) || devices.length === 0 || devices.length > 10_000 || !devices.every((udid) => typeof udid === 'string' && STORABLE_KEY.test(udid))) {
    throw new ProvisioningError('REQUEST.INVALID', 'devices must be a non-empty list of UDIDs (at most 10,000)');
  }

  return [...new Set(devices as string[])];
}

/** The operators' API: RTS configurations, devices, cycles. */
@Controller('api/v1')
@UseGuards(AdminApiGuard)
@UseFilters(AdminExceptionFilter)
export class AdminController {
  constructor(
    private readonly configurations: RtsConfigurationService,
    private readonly devices: DeviceQueryService,
    private readonly assignments: DeviceAssignmentService,
    private readonly returnToService: ReturnToServiceService,
  ) {}

  @Get('rts-configurations')
  async listConfigurations(): Promise<RtsConfigurationView[]> {
    return this.configurations.list();
  }

  @Put('rts-configurations/:name')
  async saveConfiguration(@Param('name') name: string, @Body() body: unknown): Promise<RtsConfigurationView> {
    const input = jsonObject(body);
    if (input.name !== undefined && input.name !== name) {
      throw new ProvisioningError('REQUEST.INVALID', `the body names the configuration ${JSON.stringify(input.name)} but the path ${JSON.stringify(name)}; leave name out of the body or make them agree`);
    }

    return this.configurations.save({ ...input, name });
  }

  @Post('rts-configurations')
  async createConfiguration(@Body() body: unknown): Promise<RtsConfigurationView> {
    return this.configurations.save(jsonObject(body));
  }

  @Get('rts-configurations/:name')
  async getConfiguration(@Param('name') name: string): Promise<RtsConfigurationView> {
    return this.configurations.get(key(name, 'CONFIGURATION.NOT_FOUND'));
  }

  @Get('devices')
  async listDevices(): Promise<unknown[]> {
    return this.devices.list();
  }

  @Get('devices/:udid')
  async getDevice(@Param('udid') udid: string): Promise<unknown> {
    return this.devices.get(key(udid, 'DEVICE.NOT_FOUND'));
  }

  @Get('devices/:udid/cycles')
  async deviceCycles(@Param('udid') udid: string): Promise<unknown[]> {
    return this.devices.history(key(udid, 'DEVICE.NOT_FOUND'));
  }

  @Get('cycles/:id')
  async getCycle(@Param('id') id: string): Promise<unknown> {
    return this.devices.cycle(key(id, 'CYCLE.NOT_FOUND'));
  }

  /** Starts Return to Service for one or many devices; answers 202 with one result per device. */
  @Post('return-to-service')
  @HttpCode(202)
  async trigger(@Body() raw: unknown): Promise<{ results: TriggerResult[] }> {
    const body = jsonObject(raw) as { devices?: unknown; configuration?: unknown };
    const devices = deviceList(body.devices);
    if (typeof body.configuration !== 'string' || !STORABLE_KEY.test(body.configuration)) {
      throw new ProvisioningError('REQUEST.INVALID', 'configuration must name an RTS configuration');
    }

    return { results: await this.returnToService.trigger(devices, body.configuration) };
  }

  /**
   * Assigns the RTS configuration that answers devices asking for Return to Service themselves
   * (user and idle triggers); `configuration: null` turns that off (they are answered Enabled false).
   */
  @Post('rts-assignments')
  @HttpCode(200)
  async assign(@Body() raw: unknown): Promise<{ results: AssignmentResult[] }> {
    const body = jsonObject(raw) as { devices?: unknown; configuration?: unknown };
    const devices = deviceList(body.devices);
    if (body.configuration !== null && (typeof body.configuration !== 'string' || !STORABLE_KEY.test(body.configuration))) {
      throw new ProvisioningError('REQUEST.INVALID', 'configuration must name an RTS configuration, or be null to turn device-triggered RTS off');
    }

    return { results: await this.assignments.assign(devices, body.configuration) };
  }

  /** Re-wraps every escrowed data key under the active key-encryption key (after a rotation). */
  @Post('escrow/rewrap')
  @HttpCode(200)
  async rewrapEscrow(): Promise<unknown> {
    return this.devices.rewrapEscrow();
  }
}
