import { EventContract, RequestContract, ServiceName } from './envelope.js';
import { JsonSchema, SECRET_KEYWORD } from './schema.js';

type Contract = EventContract<unknown> | RequestContract<unknown, unknown>;
type Reference = { $ref: string };

export interface AsyncApiOptions {
  /** info.version: the version of the package that ships these contracts. */
  version: string;
  /** Prefix of the exchanges (TURNAROUND_BUS_NAMESPACE); `turnaround` unless given. */
  namespace?: string;
}

export interface AsyncApiChannel {
  address: string | null;
  description: string;
  messages: Record<string, Reference>;
  bindings: Reference;
}

export interface AsyncApiOperation {
  action: 'send' | 'receive';
  channel: Reference;
  messages: Reference[];
  summary: string;
  tags: { name: ServiceName }[];
  bindings: Reference;
  reply?: {
    address: { location: string; description: string };
    channel: Reference;
    messages: Reference[];
  };
}

export interface AsyncApiMessage {
  name: string;
  contentType: string;
  correlationId: Reference;
  payload: JsonSchema;
  bindings?: { amqp: { messageType: string; bindingVersion: string } };
}

/** The parts of an AsyncAPI 3.0.0 document that this generator writes. */
export interface AsyncApiDocument {
  asyncapi: '3.0.0';
  info: { title: string; version: string; description: string; license: { name: string } };
  defaultContentType: string;
  servers: Record<string, unknown>;
  channels: Record<string, AsyncApiChannel>;
  operations: Record<string, AsyncApiOperation>;
  components: {
    schemas: Record<string, JsonSchema>;
    messages: Record<string, AsyncApiMessage>;
    correlationIds: Record<string, { location: string; description: string }>;
    channelBindings: Record<string, unknown>;
    operationBindings: Record<string, unknown>;
  };
}

// A Record, so adding a service to ServiceName fails to compile until it is described here.
const SERVICES: Readonly<Record<ServiceName, true>> = {
  checkin: true,
  commands: true,
  escrow: true,
  provisioning: true,
};

const AMQP_BINDING_VERSION = '0.3.0';
// RabbitMQ's direct reply-to pseudo-queue: the reply goes straight back to the requesting channel.
const DIRECT_REPLY_TO = 'amq.rabbitmq.reply-to';
const CLOUDEVENTS_JSON = 'application/cloudevents+json';

/** Paths of the secret-marked fields a schema describes, e.g. `token` or `commands[].code`. */
export function secretFieldsOf(schema: JsonSchema, path = ''): string[] {
  const found = schema[SECRET_KEYWORD] === true ? [path] : [];
  const properties = (schema.properties ?? {}) as Record<string, JsonSchema>;
  const nested = Object.entries(properties).flatMap(([key, property]) =>
    secretFieldsOf(property, path ? `${path}.${key}` : key),
  );
  const items = schema.items as JsonSchema | undefined;

  return [...found, ...nested, ...(items ? secretFieldsOf(items, `${path}[]`) : [])];
}

function ref(...path: string[]): Reference {
  return {
    $ref: `#/${path.map((part) => part.replaceAll('~', '~0').replaceAll('/', '~1')).join('/')}`,
  };
}

function cloudEventSchema(): JsonSchema {
  return {
    type: 'object',
    description:
      'A CloudEvents 1.0 event in JSON structured mode. Other extension attributes are accepted ' +
      'and ignored.',
    required: ['specversion', 'id', 'type', 'source', 'time', 'subject', 'data'],
    properties: {
      specversion: { type: 'string', const: '1.0' },
      id: { type: 'string', minLength: 1, description: 'Unique per message (a UUID).' },
      type: {
        type: 'string',
        // The shape defineEvent and defineRequest check.
        pattern: '^[a-z]+\\.[a-z-]+\\.[a-z-]+\\.v[1-9][0-9]*$',
        description: 'The routing key `<context>.<entity>.<event>.v<N>`.',
      },
      source: {
        type: 'string',
        enum: Object.keys(SERVICES),
        description: 'The service that sent the message.',
      },
      time: { type: 'string', format: 'date-time' },
      subject: { type: 'string', minLength: 1, description: 'The device: its UDID.' },
      datacontenttype: { type: 'string', const: 'application/json' },
      correlationid: {
        type: 'string',
        description: 'The RTS cycle (or other workflow) this message belongs to.',
      },
      causationid: {
        type: 'string',
        description: 'The message, command or request that caused this one.',
      },
      data: { description: "The payload, described by each message's schema." },
    },
    additionalProperties: true,
  };
}

function requestFailureSchema(): JsonSchema {
  return {
    type: 'object',
    description: 'The request failed in its owner; `code` is a stable error code.',
    required: ['ok', 'error'],
    properties: {
      ok: { type: 'boolean', const: false },
      error: {
        type: 'object',
        required: ['code', 'message'],
        properties: {
          code: { type: 'string', minLength: 1 },
          message: { type: 'string' },
        },
      },
    },
  };
}

function envelopeOf(contract: Contract, source: ServiceName | undefined): JsonSchema {
  return {
    allOf: [
      ref('components', 'schemas', 'CloudEvent'),
      {
        type: 'object',
        properties: {
          type: { const: contract.routingKey },
          ...(source ? { source: { const: source } } : {}),
          data: contract.schema.describe(),
        },
      },
    ],
  };
}

function message(contract: Contract, source: ServiceName | undefined): AsyncApiMessage {
  return {
    name: contract.name,
    contentType: CLOUDEVENTS_JSON,
    correlationId: ref(
      'components',
      'correlationIds',
      contract.kind === 'event' ? 'cycle' : 'request',
    ),
    payload: envelopeOf(contract, source),
    bindings: { amqp: { messageType: contract.routingKey, bindingVersion: AMQP_BINDING_VERSION } },
  };
}

function replyMessage(contract: RequestContract<unknown, unknown>): AsyncApiMessage {
  return {
    name: `${contract.name}Reply`,
    contentType: 'application/json',
    correlationId: ref('components', 'correlationIds', 'request'),
    payload: {
      oneOf: [
        {
          type: 'object',
          required: ['ok', 'value'],
          properties: {
            ok: { type: 'boolean', const: true },
            value: contract.replySchema.describe(),
          },
        },
        ref('components', 'schemas', 'RequestFailure'),
      ],
    },
  };
}

function refuseSecretsInEvents(contracts: readonly Contract[]): void {
  for (const contract of contracts) {
    const secrets = contract.kind === 'event' ? secretFieldsOf(contract.schema.describe()) : [];
    if (secrets.length > 0) {
      throw new Error(`event ${contract.name} carries secret fields: ${secrets.join(', ')}`);
    }
  }
}

function describeService(namespace: string): string {
  return [
    'Every message of Turnaround, generated from libs/contracts by `npm run asyncapi`; a test ',
    'fails when this document and the contracts disagree.\n\n',
    'Every message is a CloudEvents 1.0 event in JSON structured mode whose `type` is its routing ',
    'key `<context>.<entity>.<event>.v<N>` and whose `subject` is the device. Events go to the ',
    `topic exchange \`${namespace}.events\`: each subscribing service reads them from its own `,
    `durable quorum queue \`${namespace}.<service>.events\` and acknowledges them once handled; `,
    `what fails validation or keeps failing goes to \`${namespace}.dead-letter\`. Requests go to `,
    `the direct exchange \`${namespace}.requests\`, are answered by the service that owns the `,
    'data, and their replies come back through RabbitMQ direct reply-to.\n\n',
    'Fields marked `x-secret` travel only in requests and replies, never in an event. Unknown ',
    'properties in a payload are accepted and dropped on receipt.',
  ].join('');
}

/**
 * The AsyncAPI 3.0.0 document of the given contracts: one channel, message and `send` operation
 * per event (sent by its producer) and per request (answered by its owner, with its reply).
 * Throws when an event carries a field marked secret.
 */
export function buildAsyncApiDocument(
  contracts: readonly Contract[],
  options: AsyncApiOptions,
): AsyncApiDocument {
  refuseSecretsInEvents(contracts);
  const namespace = options.namespace ?? 'turnaround';
  const channels: Record<string, AsyncApiChannel> = {};
  const operations: Record<string, AsyncApiOperation> = {};
  const messages: Record<string, AsyncApiMessage> = {};

  for (const contract of contracts) {
    const { name, routingKey } = contract;
    if (channels[name]) {
      throw new Error(`two contracts are named ${name}`);
    }
    const sentBy = contract.kind === 'event' ? contract.producer : undefined;
    messages[name] = message(contract, sentBy);
    channels[name] = {
      address: routingKey,
      description:
        contract.kind === 'event'
          ? `Routing key on the topic exchange \`${namespace}.events\`.`
          : `Routing key on the direct exchange \`${namespace}.requests\`.`,
      messages: { [name]: ref('components', 'messages', name) },
      bindings: ref(
        'components',
        'channelBindings',
        contract.kind === 'event' ? 'events' : 'requests',
      ),
    };
    if (contract.kind === 'event') {
      operations[`send${name}`] = {
        action: 'send',
        channel: ref('channels', name),
        messages: [ref('channels', name, 'messages', name)],
        summary: `The ${sentBy} service publishes ${name}.`,
        tags: [{ name: sentBy! }],
        bindings: ref('components', 'operationBindings', 'event'),
      };
      continue;
    }
    const reply = `${name}Reply`;
    messages[reply] = replyMessage(contract);
    channels[reply] = {
      address: null,
      description: `The reply to ${name}, through RabbitMQ direct reply-to.`,
      messages: { [reply]: ref('components', 'messages', reply) },
      bindings: ref('components', 'channelBindings', 'directReplyTo'),
    };
    operations[`send${name}`] = {
      action: 'send',
      channel: ref('channels', name),
      messages: [ref('channels', name, 'messages', name)],
      summary: `Asks the ${contract.owner} service, which owns the data and sends the one reply.`,
      tags: [{ name: contract.owner }],
      bindings: ref('components', 'operationBindings', 'request'),
      reply: {
        address: {
          location: '$message.header#/replyTo',
          description: `The request's AMQP reply-to property: ${DIRECT_REPLY_TO}.`,
        },
        channel: ref('channels', reply),
        messages: [ref('channels', reply, 'messages', reply)],
      },
    };
  }

  return {
    asyncapi: '3.0.0',
    info: {
      title: 'Turnaround',
      version: options.version,
      description: describeService(namespace),
      license: { name: 'MIT' },
    },
    defaultContentType: CLOUDEVENTS_JSON,
    servers: {
      production: {
        host: '{host}:{port}',
        protocol: 'amqps',
        protocolVersion: '0.9.1',
        description: 'The RabbitMQ broker that AMQP_URL names (amqp:// or amqps://).',
        variables: {
          host: { description: 'The broker host name.' },
          port: { default: '5671', description: 'The AMQPS port (5672 for plain amqp).' },
        },
      },
    },
    channels,
    operations,
    components: {
      schemas: {
        CloudEvent: cloudEventSchema(),
        RequestFailure: requestFailureSchema(),
      },
      messages,
      correlationIds: {
        cycle: {
          location: '$message.payload#/correlationid',
          description: 'The RTS cycle (or other workflow) the event belongs to.',
        },
        request: {
          location: '$message.header#/correlationId',
          description: 'The AMQP correlation-id property that pairs a reply with its request.',
        },
      },
      channelBindings: {
        events: {
          amqp: {
            is: 'routingKey',
            exchange: {
              name: `${namespace}.events`,
              type: 'topic',
              durable: true,
              autoDelete: false,
            },
            bindingVersion: AMQP_BINDING_VERSION,
          },
        },
        requests: {
          amqp: {
            is: 'routingKey',
            exchange: {
              name: `${namespace}.requests`,
              type: 'direct',
              durable: true,
              autoDelete: false,
            },
            bindingVersion: AMQP_BINDING_VERSION,
          },
        },
        directReplyTo: {
          amqp: {
            is: 'queue',
            queue: { name: DIRECT_REPLY_TO },
            bindingVersion: AMQP_BINDING_VERSION,
          },
        },
      },
      operationBindings: {
        // Persistent, so an event survives a broker restart until every subscriber has it.
        event: { amqp: { deliveryMode: 2, timestamp: true, bindingVersion: AMQP_BINDING_VERSION } },
        // Transient: a request expires with its caller's timeout, so there is nothing to keep.
        request: { amqp: { deliveryMode: 1, bindingVersion: AMQP_BINDING_VERSION } },
      },
    },
  };
}
