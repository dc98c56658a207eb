import type { FetchLike } from './mdm-client.js';
import { SimulatorError, messageOf } from './simulator.errors.js';

const READ_RETRY_MS = 500;
const READ_RETRY_FOR_MS = 30_000;

export type PhaseName = 'erase' | 'reenroll' | 'provision' | 'total';

export const PHASES: readonly PhaseName[] = ['erase', 'reenroll', 'provision', 'total'];

/** `snapshot`: RTS with app preservation, from DeviceConfigured until the device resumed. */
export type PhaseDurations = Partial<Record<PhaseName | 'snapshot', number>>;

/** The parts of the admin API's cycle view the simulator reads. */
export interface CycleView {
  id: string;
  udid: string;
  state: string;
  reason: string | null;
  phasesMs: PhaseDurations;
  trigger?: string;
  /** Whether the cycle keeps the apps, as the service decided. */
  preserveApps?: boolean;
  /** Why app preservation was asked for but this cycle erases everything. */
  preservationDeclined?: string;
  snapshot?: {
    apps?: unknown[] | null;
    notNowAnswers?: number;
    ms?: number | null;
  };
  requestedAt?: string | null;
}

/** The parts of the admin API's device view the simulator reads. */
export interface DeviceSummary {
  udid: string;
  state: string;
  currentCycle: { id: string; state: string; reason: string | null } | null;
}

export interface TriggerResult {
  udid: string;
  cycleId?: string;
  error?: { code: string; message: string };
}

export interface AssignmentResult {
  udid: string;
  error?: { code: string; message: string };
}

/** Which OS a device must run before it may enroll again (403 software-update-required). */
export interface OsPolicyInput {
  minimumVersion: string;
  buildVersion?: string;
  unsupportedProducts?: string[];
  whenUnsupported: 'allow' | 'block';
}

export interface RtsConfigurationInput {
  /** The Wi-Fi profile's bytes, base64-encoded once. */
  wifiProfile: string;
  enrollmentProfile?: string;
  ade?: Record<string, unknown>;
  plan: {
    profiles: { name: string; payload: string }[];
    apps: ({ identifier: string } | { iTunesStoreID: number })[];
  };
  preserveApps?: boolean;
  preserveDataPlan?: boolean;
  /** Seconds; 0 turns the idle timeout off, null leaves it unmanaged. */
  temporarySessionTimeout?: number | null;
  osPolicy?: OsPolicyInput | null;
}

/** The service accepts at most this many devices per trigger; batches stay well below. */
export const TRIGGER_BATCH = 500;

/** The operators' API of the provisioning service, as the simulator uses it. */
export class AdminClient {
  private readonly fetch: FetchLike;
  /** Whether any call got an answer: a service seen once and then gone is restarting. */
  private reached: boolean;

  constructor(
    private readonly baseUrl: string,
    private readonly apiKey: string,
    fetchImpl?: FetchLike,
    private readonly timeoutMs = 30_000,
  ) {
    this.fetch = fetchImpl ?? ((input, init) => fetch(input, init));
    this.reached = false;
  }

  async saveConfiguration(name: string, input: RtsConfigurationInput): Promise<unknown> {
    return this.call('PUT', `/api/v1/rts-configurations/${encodeURIComponent(name)}`, input);
  }

  /**
   * Starts Return to Service for at most {@link TRIGGER_BATCH} devices; one result per device.
   * The service answers only after it queued every erase, which can take a while for a batch.
   */
  async returnToService(
    udids: readonly string[],
    configuration: string,
    timeoutMs = this.timeoutMs,
  ): Promise<TriggerResult[]> {
    if (udids.length > TRIGGER_BATCH) {
      throw new RangeError(`at most ${TRIGGER_BATCH} devices per request`);
    }

    const answer = (await this.call(
      'POST',
      '/api/v1/return-to-service',
      { devices: udids, configuration },
      timeoutMs,
    )) as { results?: TriggerResult[] };

    return answer.results ?? [];
  }

  /**
   * Assigns the configuration the service answers these devices' own ReturnToService check-ins
   * with (user and idle triggers); null turns that off. At most {@link TRIGGER_BATCH} devices.
   */
  async assign(
    udids: readonly string[],
    configuration: string | null,
    timeoutMs = this.timeoutMs,
  ): Promise<AssignmentResult[]> {
    if (udids.length > TRIGGER_BATCH) {
      throw new RangeError(`at most ${TRIGGER_BATCH} devices per request`);
    }

    const answer = (await this.call(
      'POST',
      '/api/v1/rts-assignments',
      { devices: udids, configuration },
      timeoutMs,
    )) as { results?: AssignmentResult[] };

    return answer.results ?? [];
  }

  async devices(): Promise<DeviceSummary[]> {
    return (await this.call('GET', '/api/v1/devices')) as DeviceSummary[];
  }

  async cycle(id: string): Promise<CycleView> {
    return (await this.call('GET', `/api/v1/cycles/${encodeURIComponent(id)}`)) as CycleView;
  }

  async deviceCycles(udid: string): Promise<CycleView[]> {
    return (await this.call(
      'GET',
      `/api/v1/devices/${encodeURIComponent(udid)}/cycles`,
    )) as CycleView[];
  }

  /**
   * A read is tried again while the service is briefly away (a restarting process behind an
   * ingress answers 502 to 504, or nothing listens): a watcher outlives a pod restart. Writes are
   * not, since a lost answer does not say whether they happened; nor is a service never reached
   * (most likely not started), which should fail at once with its hint.
   */
  private async call(
    method: 'GET' | 'PUT' | 'POST',
    path: string,
    body?: unknown,
    timeoutMs = this.timeoutMs,
  ): Promise<unknown> {
    for (let waitedMs = 0; ; waitedMs += READ_RETRY_MS) {
      try {
        const answer = await this.callOnce(method, path, body, timeoutMs);
        this.reached = true;

        return answer;
      } catch (error) {
        const away = error instanceof SimulatorError && (error.code === 'SIMULATOR.SERVICE_UNREACHABLE' || / answered 50[234]:/.test(error.message));
        if (method !== 'GET' || !this.reached || !away || waitedMs >= READ_RETRY_FOR_MS) {
          throw error;
        }
        await new Promise((done) => setTimeout(done, READ_RETRY_MS));
      }
    }
  }

  private async callOnce(
    method: 'GET' | 'PUT' | 'POST',
    path: string,
    body: unknown,
    timeoutMs: number,
  ): Promise<unknown> {
    const url = `${this.baseUrl}${path}`;
    let response: Response;

    try {
      response = await this.fetch(url, {
        method,
        headers: {
          Authorization: `Bearer ${this.apiKey}`,
          Accept: 'application/json',
          ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      if ((error as Error)?.name === 'TimeoutError') {
        throw new SimulatorError(
          'SIMULATOR.ADMIN_API',
          `${method} ${path} got no answer within ${Math.round(timeoutMs / 1000)} s`,
          { cause: error },
        );
      }

      throw new SimulatorError(
        'SIMULATOR.SERVICE_UNREACHABLE',
        `cannot reach ${this.baseUrl} (${messageOf((error as Error)?.cause ?? error)}); is the service running? (npm start)`,
        { cause: error },
      );
    }

    const text = await response.text();

    if (response.status === 401) {
      throw new SimulatorError(
        'SIMULATOR.ADMIN_API',
        `the service refused the API key (${method} ${path}: 401); pass --api-key or set TURNAROUND_API_KEY`,
      );
    }
    if (!response.ok) {
      throw new SimulatorError(
        'SIMULATOR.ADMIN_API',
        `${method} ${path} answered ${response.status}: ${text.slice(0, 500) || '(empty body)'}`,
      );
    }

    return text === '' ? undefined : (JSON.parse(text) as unknown);
  }
}
