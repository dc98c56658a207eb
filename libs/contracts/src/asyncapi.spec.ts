import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import specs from '@asyncapi/specs';
import { Ajv, type ValidateFunction } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import formats from 'ajv-formats';
import { parse } from 'yaml';

import { AsyncApiDocument, buildAsyncApiDocument, secretFieldsOf } from './asyncapi.js';
import * as contracts from './index.js';
import {
  base64,
  CONTRACTS,
  createEnvelope,
  defineEvent,
  EventContract,
  JsonSchema,
  nonEmptyString,
  object,
  RequestContract,
  secret,
  SECRET_KEYWORD,
  ServiceName,
} from './index.js';

type Contract = EventContract<unknown> | RequestContract<unknown, unknown>;

// ajv-formats is CommonJS: under NodeNext its default import is the module; the plugin is `default`.
const addFormats = formats.default;

const ROOT = process.cwd();
const SERVICES: readonly ServiceName[] = ['checkin', 'commands', 'escrow', 'provisioning'];
const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  version: string;
};
const document = buildAsyncApiDocument(CONTRACTS, { version });
const events = CONTRACTS.filter(
  (contract): contract is EventContract<unknown> => contract.kind === 'event',
);
const requests = CONTRACTS.filter(
  (contract): contract is RequestContract<unknown, unknown> => contract.kind === 'request',
);

// The keywords schema.ts writes. A schema with any other keyword stops the sample generator, so a
// new kind of field cannot slip past these tests with a sample that proves nothing.
const SAMPLED_KEYWORDS = new Set([
  'type',
  'properties',
  'required',
  'additionalProperties',
  'items',
  'minLength',
  'minimum',
  'maximum',
  'format',
  'contentEncoding',
  'pattern',
  'enum',
  'description',
  SECRET_KEYWORD,
]);

/**
 * A value valid under `schema`: `full` fills every optional property and one array item,
 * otherwise only what is required, with the smallest values allowed.
 */
function sample(schema: JsonSchema, full: boolean): unknown {
  const unknown = Object.keys(schema).filter((keyword) => !SAMPLED_KEYWORDS.has(keyword));
  if (unknown.length > 0) {
    throw new Error(`no sample for keywords ${unknown.join(', ')}`);
  }
  switch (schema.type) {
    case 'object': {
      const properties = (schema.properties ?? {}) as Record<string, JsonSchema>;
      const required = new Set((schema.required ?? []) as string[]);
      const entries = Object.entries(properties).filter(([key]) => full || required.has(key));
      if (entries.length === 0 && full && schema.additionalProperties === true) {
        return { model: 'iPad16,3', batteryLevel: 0.5 };
      }

      return Object.fromEntries(entries.map(([key, property]) => [key, sample(property, full)]));
    }
    case 'array':
      return full ? [sample(schema.items as JsonSchema, full)] : [];
    case 'string': {
      const values = schema.enum as string[] | undefined;
      if (values) {
        return full ? values[values.length - 1] : values[0];
      }
      if (schema.format === 'date-time') {
        return '2025-06-01T08:30:00.000Z';
      }
      if (schema.contentEncoding === 'base64') {
        return full ? Buffer.from('<plist/>').toString('base64') : '';
      }
      if (schema.pattern !== undefined) {
        throw new Error(`no sample for pattern ${String(schema.pattern)}`);
      }

      return 'x'.repeat(full ? 8 : Number(schema.minLength ?? 0));
    }
    case 'integer':
      return full ? 42 : 0;
    case 'boolean':
      return full;
    default:
      throw new Error(`no sample for type ${String(schema.type)}`);
  }
}

function describeErrors(validate: ValidateFunction): string {
  return (validate.errors ?? [])
    .map((error) => `${error.instancePath} ${error.message}`)
    .join('; ');
}

/** Validators for the payloads the document describes, references resolved inside it. */
function payloadValidators(source: AsyncApiDocument): (message: string) => ValidateFunction {
  const ajv = new Ajv({ allErrors: true });
  addFormats(ajv);
  // `components` holds the schemas the payloads refer to; the rest of the document is no schema.
  ajv.addVocabulary([SECRET_KEYWORD, 'components']);
  ajv.addSchema({ $id: 'asyncapi', components: source.components }, undefined, undefined, false);
  const compiled = new Map<string, ValidateFunction>();

  return (message) => {
    let validate = compiled.get(message);
    if (!validate) {
      validate = ajv.compile({ $ref: `asyncapi#/components/messages/${message}/payload` });
      compiled.set(message, validate);
    }

    return validate;
  };
}

const payloadOf = payloadValidators(document);

function expectValid(validate: ValidateFunction, value: unknown): void {
  const valid = validate(value);

  expect(valid ? 'valid' : describeErrors(validate)).toBe('valid');
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      return entry.name === 'testing' ? [] : sourceFiles(path);
    }

    return entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts') ? [path] : [];
  });
}

/** Which service's code publishes each event, read from its `publish(` calls. */
function publishersInSource(): Map<string, Set<ServiceName>> {
  const exported = contracts as unknown as Record<string, unknown>;
  const found = new Map<string, Set<ServiceName>>();
  for (const service of SERVICES) {
    for (const file of sourceFiles(join(ROOT, 'libs', service, 'src'))) {
      const text = readFileSync(file, 'utf8');
      for (const match of text.matchAll(/\bpublish\(\s*(?:[a-z]\w*,\s*)?([A-Z]\w*)/g)) {
        const named = exported[match[1]!];
        const published = (
          match[1] === 'CycleEvents' ? Object.values(contracts.CycleEvents) : [named]
        ) as Contract[];
        for (const contract of published) {
          if (contract?.kind !== 'event') {
            throw new Error(`${file} publishes ${match[1]}, which is no event contract`);
          }
          found.set(
            contract.routingKey,
            (found.get(contract.routingKey) ?? new Set()).add(service),
          );
        }
      }
    }
  }

  return found;
}

describe('asyncapi document', () => {
  it('is the document the contracts generate (run `npm run asyncapi` after changing one)', () => {
    const path = join(ROOT, 'docs', 'asyncapi.yaml');
    try {
      expect(parse(readFileSync(path, 'utf8'))).toEqual(document);
    } catch (error) {
      throw new Error(
        `docs/asyncapi.yaml does not match libs/contracts: run \`npm run asyncapi\`\n${String(error)}`,
      );
    }
  });

  it('gives every contract its channel, message and operation, and nothing else', () => {
    const expectedChannels = [
      ...CONTRACTS.map((c) => c.name),
      ...requests.map((r) => `${r.name}Reply`),
    ];

    expect(Object.keys(document.channels).sort()).toEqual([...expectedChannels].sort());
    expect(Object.keys(document.components.messages).sort()).toEqual([...expectedChannels].sort());
    expect(Object.keys(document.operations).sort()).toEqual(
      CONTRACTS.map((c) => `send${c.name}`).sort(),
    );
    for (const contract of CONTRACTS) {
      const channel = document.channels[contract.name]!;

      expect(channel.address).toBe(contract.routingKey);
      expect(channel.messages).toEqual({
        [contract.name]: { $ref: `#/components/messages/${contract.name}` },
      });
      expect(document.components.messages[contract.name]!.name).toBe(contract.name);
      expect(document.operations[`send${contract.name}`]!.channel).toEqual({
        $ref: `#/channels/${contract.name}`,
      });
    }
    const addresses = Object.values(document.channels).flatMap((channel) => channel.address ?? []);

    expect(addresses.sort()).toEqual(CONTRACTS.map((c) => c.routingKey).sort());
  });

  it('validates against the AsyncAPI 3.0.0 schema, and a broken document does not', () => {
    const ajv = new Ajv({ allErrors: true, strict: false, logger: false });
    addFormats(ajv);
    const validate = ajv.compile(specs.schemasWithoutId['3.0.0']);
    const broken = structuredClone(document) as unknown as { operations: Record<string, object> };
    // AsyncAPI 2 called it publish; 3.0 knows only send and receive.
    broken.operations.sendDeviceEnrolled = {
      ...broken.operations.sendDeviceEnrolled,
      action: 'publish',
    };

    expectValid(validate, document);
    expect(validate(broken)).toBe(false);
    expect(validate({ ...document, info: { title: 'Turnaround' } })).toBe(false);
  });

  it('resolves every reference in the document', () => {
    const refs = JSON.stringify(document).matchAll(/"\$ref":"#\/([^"]+)"/g);
    for (const [, pointer] of refs) {
      const target = pointer!
        .split('/')
        .map((part) => part.replaceAll('~1', '/').replaceAll('~0', '~'))
        .reduce<unknown>(
          (node, part) => (node as Record<string, unknown> | undefined)?.[part],
          document,
        );

      expect({ pointer, resolved: target !== undefined }).toEqual({ pointer, resolved: true });
    }
  });

  it('accepts the envelope of every event built from a minimal and a complete payload', () => {
    for (const contract of events) {
      for (const full of [false, true]) {
        const data = sample(contract.schema.describe(), full);
        const context = full
          ? { subject: 'UDID-1', correlationId: 'C1', causationId: 'M0' }
          : { subject: 'UDID-1' };
        const envelope = createEnvelope(contract, contract.producer, data, context);

        expect({ contract: contract.name, data: envelope.data }).toEqual({
          contract: contract.name,
          data,
        });
        expectValid(payloadOf(contract.name), JSON.parse(JSON.stringify(envelope)));
      }
    }
  });

  it('accepts every request envelope and reply, successful or failed', () => {
    for (const contract of requests) {
      for (const full of [false, true]) {
        const data = sample(contract.schema.describe(), full);
        const envelope = createEnvelope(contract, 'commands', data, { subject: 'UDID-1' });
        const reply = sample(contract.replySchema.describe(), full);

        expect(contract.replySchema.parse(reply, 'reply')).toEqual(reply);
        expectValid(payloadOf(contract.name), JSON.parse(JSON.stringify(envelope)));
        expectValid(payloadOf(`${contract.name}Reply`), { ok: true, value: reply });
      }
      const failure = { ok: false, error: { code: 'ESCROW.TOKEN_NOT_FOUND', message: 'none' } };

      expectValid(payloadOf(`${contract.name}Reply`), failure);
    }
  });

  it('refuses, as the contract does, a payload missing a required field or with a wrong one', () => {
    for (const contract of CONTRACTS) {
      const data = sample(contract.schema.describe(), true) as Record<string, unknown>;
      const source = contract.kind === 'event' ? contract.producer : 'commands';
      const envelope = createEnvelope(contract, source, data, { subject: 'UDID-1' });
      const described = contract.schema.describe();

      expectValid(payloadOf(contract.name), envelope);
      const mutations = [
        ...((described.required ?? []) as string[]).map((key) => {
          const { [key]: _removed, ...rest } = data;

          return rest;
        }),
        // No field of any contract takes an array of arrays.
        ...Object.keys(data).map((key) => ({ ...data, [key]: [[]] })),
      ];
      for (const mutated of mutations) {
        const message = { ...envelope, data: mutated };

        expect(() => contract.schema.parse(mutated, 'data')).toThrow(contracts.ContractViolation);
        expect({ contract: contract.name, valid: payloadOf(contract.name)(message) }).toEqual({
          contract: contract.name,
          valid: false,
        });
      }
    }
  });

  it('describes every payload so that JSON Schema 2020-12 reads it the same way', () => {
    const ajv = new Ajv2020({ allErrors: true });
    addFormats(ajv);
    ajv.addVocabulary([SECRET_KEYWORD]);
    for (const contract of CONTRACTS) {
      const schemas =
        contract.kind === 'event' ? [contract.schema] : [contract.schema, contract.replySchema];
      for (const schema of schemas) {
        const validate = ajv.compile(schema.describe());

        expectValid(validate, sample(schema.describe(), false));
        expectValid(validate, sample(schema.describe(), true));
        expect(validate([[]])).toBe(false);
      }
    }
  });

  it('names as sender of each event the service whose code publishes it', () => {
    const publishers = publishersInSource();
    for (const contract of events) {
      const sender = document.operations[`send${contract.name}`]!.tags[0]!.name;

      expect({ event: contract.name, sender }).toEqual({
        event: contract.name,
        sender: contract.producer,
      });
      expect({
        event: contract.name,
        publishers: [...(publishers.get(contract.routingKey) ?? [])],
      }).toEqual({
        event: contract.name,
        publishers: [sender],
      });
    }
  });
});

describe('secrets in messages', () => {
  it('marks the secrets that requests and replies carry', () => {
    const marked = Object.fromEntries(
      requests.map((r) => [
        r.name,
        [
          ...secretFieldsOf(r.schema.describe()),
          ...secretFieldsOf(r.replySchema.describe(), 'reply'),
        ],
      ]),
    );

    expect(marked).toMatchObject({
      StoreBootstrapToken: ['token'],
      FetchBootstrapToken: ['reply.token'],
      StoreActivationLockBypassCode: ['code'],
      IssueEnrollmentProfile: ['reply.profile'],
      PrepareDeviceReturnToService: ['reply.wifiProfileData', 'reply.mdmProfileData'],
      RenderReturnToServiceProfiles: ['reply.wifiProfileData', 'reply.mdmProfileData'],
      RenderProfile: ['reply.payload'],
    });
  });

  it('carries no secret-marked field in any event', () => {
    const leaks = events.flatMap((event) =>
      secretFieldsOf(event.schema.describe()).map((field) => `${event.name}.${field}`),
    );

    expect(leaks).toEqual([]);
    expect(
      JSON.stringify(
        Object.values(document.components.messages).filter((m) =>
          events.some((e) => e.name === m.name),
        ),
      ),
    ).not.toContain(SECRET_KEYWORD);
  });

  it('refuses to document an event that carries a secret, however deep', () => {
    const leaky = defineEvent(
      'BootstrapTokenLeaked',
      'escrow.bootstrap-token.leaked.v1',
      'escrow',
      object({
        udid: nonEmptyString(),
        copies: contracts.array(object({ token: secret(base64()) })),
      }),
    );

    expect(secretFieldsOf(leaky.schema.describe())).toEqual(['copies[].token']);
    expect(() => buildAsyncApiDocument([...CONTRACTS, leaky as Contract], { version })).toThrow(
      'event BootstrapTokenLeaked carries secret fields: copies[].token',
    );
  });
});
