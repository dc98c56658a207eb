import { parseArgs, resolveApiKey, UsageError } from './cli.js';

function run(argv: string[]) {
  const command = parseArgs(argv);

  if (command.kind !== 'run') {
    throw new Error('expected a run');
  }

  return command.options;
}

function usageMessage(argv: string[]): string {
  try {
    parseArgs(argv);
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);

    return (error as Error).message;
  }

  throw new Error('expected a usage error');
}

describe('parseArgs', () => {
  it('needs no flags against the embedded default', () => {
    const options = run([]);

    expect(options).toMatchObject({
      devices: 10,
      cycles: 1,
      platform: 'ios',
      url: 'http://127.0.0.1:8080',
      json: false,
      concurrency: 32,
      timeoutSeconds: 600,
      notNowShare: 0.15,
    });
    expect(options.apiKey).toBeUndefined();
    expect(options.seed).toMatch(/^\d+$/);
  });

  it('reads every option, in both --flag value and --flag=value form', () => {
    const options = run([
      '--devices',
      '5',
      '--cycles=2',
      '--platform',
      'tvos',
      '--url',
      'http://127.0.0.1:9000/',
      '--api-key',
      'secret',
      '--json',
      '--seed',
      '42',
      '--concurrency',
      '4',
      '--timeout',
      '30',
      '--not-now',
      '0.5',
      '--erase-delay',
      '10',
      '--idle-poll',
      '100',
      '--verbose',
      '--update-delay',
      '50',
    ]);

    expect(options).toEqual({
      devices: 5,
      cycles: 2,
      platform: 'tvos',
      url: 'http://127.0.0.1:9000',
      apiKey: 'secret',
      json: true,
      seed: '42',
      concurrency: 4,
      timeoutSeconds: 30,
      notNowShare: 0.5,
      eraseDelayMs: 10,
      idlePollMs: 100,
      verbose: true,
      preserveApps: false,
      rotateApps: false,
      trigger: 'service',
      idleTimeoutSeconds: 30,
      snapshotMs: 1_000,
      activationLockShare: 0,
      outdatedShare: 0,
      updateDelayMs: 50,
    });
  });

  it('shows help', () => {
    expect(parseArgs(['--help'])).toEqual({ kind: 'help' });
    expect(parseArgs(['-h'])).toEqual({ kind: 'help' });
  });

  it('refuses an unknown flag by name', () => {
    expect(usageMessage(['--device', '3'])).toBe('unknown option --device (see --help)');
  });

  it('refuses a count that is not a whole number', () => {
    expect(usageMessage(['--devices', '2.5'])).toBe('--devices must be a whole number, got "2.5"');
    expect(usageMessage(['--cycles', 'two'])).toBe('--cycles must be a whole number, got "two"');
  });

  it('refuses counts out of range', () => {
    expect(usageMessage(['--devices', '0'])).toMatch(/^--devices must be from 1 to/);
  });

  it('refuses a platform outside the list', () => {
    expect(usageMessage(['--platform', 'watchos'])).toBe(
      '--platform must be one of ios, ipados, tvos, visionos, got "watchos"',
    );
  });

  it('reads the Return to Service options', () => {
    expect(
      run([
        '--platform',
        'visionos',
        '--preserve-apps',
        '--trigger',
        'idle',
        '--idle-timeout',
        '45',
        '--snapshot-ms',
        '250',
        '--activation-lock',
        '0.2',
        '--unlock-port',
        '18443',
        '--outdated',
        '0.5',
      ]),
    ).toMatchObject({
      platform: 'visionos',
      preserveApps: true,
      trigger: 'idle',
      idleTimeoutSeconds: 45,
      snapshotMs: 250,
      activationLockShare: 0.2,
      unlockPort: 18443,
      outdatedShare: 0.5,
    });
    expect(run(['--preserve-apps'])).toMatchObject({ trigger: 'service', preserveApps: true });
    expect(run([]).unlockPort).toBeUndefined();
  });

  it('refuses an unknown trigger and an idle timeout below Apple minimum', () => {
    expect(usageMessage(['--trigger', 'push'])).toBe(
      '--trigger must be one of service, user, idle, got "push"',
    );
    expect(usageMessage(['--idle-timeout', '10'])).toMatch(/^--idle-timeout must be from 30/);
  });

  it('refuses options that do not go together, saying why', () => {
    expect(usageMessage(['--trigger', 'user'])).toMatch(/needs --preserve-apps/);
    expect(usageMessage(['--platform', 'ios', '--preserve-apps', '--trigger', 'idle'])).toMatch(
      /needs --platform visionos/,
    );
    expect(usageMessage(['--platform', 'tvos', '--preserve-apps', '--trigger', 'user'])).toMatch(
      /Apple TV cannot ask/,
    );
    expect(usageMessage(['--idle-timeout', '60'])).toBe(
      '--idle-timeout applies to --trigger idle only',
    );
    expect(usageMessage(['--platform', 'tvos', '--activation-lock', '0.5'])).toMatch(
      /no bypass code/,
    );
    expect(usageMessage(['--platform', 'tvos', '--outdated', '0.5'])).toMatch(/cannot be asked/);
  });

  it('refuses a missing value, a repeated flag, a value on a switch and stray words', () => {
    expect(usageMessage(['--devices'])).toBe('--devices needs a value');
    expect(usageMessage(['--devices', '--json'])).toBe('--devices needs a value');
    expect(usageMessage(['--json', '--json'])).toBe('--json is given twice');
    expect(usageMessage(['--json=yes'])).toBe('--json takes no value');
    expect(usageMessage(['5'])).toMatch(/^unexpected argument "5"/);
  });

  it('refuses a URL that is not http(s) and a NotNow share outside 0..1', () => {
    expect(usageMessage(['--url', 'ftp://127.0.0.1'])).toMatch(/http:\/\/ or https:\/\//);
    expect(usageMessage(['--url', 'localhost:8080x'])).toMatch(/must (be a URL|start with)/);
    expect(usageMessage(['--not-now', '1.5'])).toBe(
      '--not-now must be a number from 0 to 1, got "1.5"',
    );
  });
});

describe('resolveApiKey', () => {
  const noFile = (): string => {
    throw new Error('ENOENT');
  };
  const recorder = (content: string) => {
    const paths: string[] = [];

    const read = (path: string): string => {
      paths.push(path);

      return content;
    };

    return { paths, read };
  };

  it('prefers --api-key, then TURNAROUND_API_KEY, then data/api-key', () => {
    const { paths, read } = recorder('from-file\n');
    const sources = (env: Record<string, string>) => ({ env, cwd: '/srv', readFile: read });

    expect(resolveApiKey({ apiKey: 'flag' }, sources({ TURNAROUND_API_KEY: 'env' }))).toBe('flag');
    expect(resolveApiKey({}, sources({ TURNAROUND_API_KEY: 'env' }))).toBe('env');
    expect(resolveApiKey({}, sources({}))).toBe('from-file');
    expect(paths).toEqual(['/srv/data/api-key']);
  });

  it('follows TURNAROUND_DATA_DIR like the service does', () => {
    const { paths, read } = recorder('k');

    resolveApiKey(
      {},
      { env: { TURNAROUND_DATA_DIR: '/var/lib/turnaround' }, cwd: '/srv', readFile: read },
    );
    expect(paths).toEqual(['/var/lib/turnaround/api-key']);
  });

  it('says where it looked when there is no key', () => {
    expect(() => resolveApiKey({}, { env: {}, cwd: '/srv', readFile: noFile })).toThrow(
      /--api-key.*TURNAROUND_API_KEY.*\/srv\/data\/api-key/,
    );
  });
});
