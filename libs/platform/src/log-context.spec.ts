import { setTimeout as sleep } from 'node:timers/promises';

import {
  annotateLogContext,
  processCorrelationId,
  runWithLogContext,
  runWithMessageContext,
  runWithNewLogContext,
} from './log-context.js';
import { createLogger, redirectLogs, setLogLevel } from './logger.js';

describe('log context', () => {
  const logger = createLogger('LogContextSpec');
  let lines: Record<string, unknown>[] = [];
  let restore: () => void;

  beforeEach(() => {
    lines = [];
    restore = redirectLogs({
      write: (line) => void lines.push(JSON.parse(line) as Record<string, unknown>),
    });
    setLogLevel('info');
  });

  afterEach(() => restore());

  it('puts the process run on lines written outside any request, message or task', () => {
    logger.info('starting');

    expect(lines).toEqual([
      expect.objectContaining({ msg: 'starting', correlationId: processCorrelationId() }),
    ]);
    expect(processCorrelationId()).toMatch(/^process-[0-9a-f-]{36}$/);
  });

  it('keeps the context through awaits and timers, and apart from work running at the same time', async () => {
    const request = async (id: string, pause: number): Promise<void> =>
      runWithLogContext({ correlationId: id }, async () => {
        logger.info('arrived');
        await sleep(pause);
        annotateLogContext({ udid: `device-${id}`, messageType: 'TokenUpdate' });
        await new Promise<void>((done) =>
          setTimeout(() => {
            logger.info('timer fired');
            done();
          }, pause),
        );
        logger.info({ status: 200 }, 'answered');
      });
    await Promise.all([request('a', 5), request('b', 1)]);

    for (const id of ['a', 'b']) {
      expect(
        lines
          .filter((line) => line.correlationId === id)
          .map((line) => [line.msg, line.udid, line.messageType]),
      ).toEqual([
        ['arrived', undefined, undefined],
        ['timer fired', `device-${id}`, 'TokenUpdate'],
        ['answered', `device-${id}`, 'TokenUpdate'],
      ]);
    }
    expect(lines).toHaveLength(6);
  });

  it('lets a line set its own fields, without an undefined one hiding what the context knows', () => {
    runWithLogContext({ correlationId: 'req-1', udid: 'CONTEXT-UDID' }, () => {
      logger.info({ udid: 'LINE-UDID' }, 'own udid');
      logger.info({ udid: undefined, correlationId: 'cycle-7' }, 'own correlation');
    });

    expect(lines.map((line) => [line.msg, line.udid, line.correlationId])).toEqual([
      ['own udid', 'LINE-UDID', 'req-1'],
      ['own correlation', 'CONTEXT-UDID', 'cycle-7'],
    ]);
  });

  it('bounds what a device claims before it lands on every line', () => {
    runWithLogContext({ correlationId: 'req-2' }, () => {
      annotateLogContext({ udid: 'U'.repeat(5_000) });
      logger.info('claimed');
    });

    expect(String(lines[0]!.udid)).toHaveLength(128);
  });

  it('runs a bus message under its correlation id, or its own id when it has none', () => {
    runWithMessageContext(
      { id: 'msg-1', subject: 'UDID-1', correlationid: 'cycle-1', causationid: 'cmd-1' },
      () => logger.info('handled'),
    );
    runWithMessageContext({ id: 'msg-2', subject: 'UDID-2' }, () => logger.info('handled'));

    expect(
      lines.map(({ correlationId, messageId, causationId, udid }) => ({
        correlationId,
        messageId,
        causationId,
        udid,
      })),
    ).toEqual([
      { correlationId: 'cycle-1', messageId: 'msg-1', causationId: 'cmd-1', udid: 'UDID-1' },
      { correlationId: 'msg-2', messageId: 'msg-2', causationId: undefined, udid: 'UDID-2' },
    ]);
  });

  it('gives each task run its own id, named after the task', async () => {
    await runWithNewLogContext('cycle-timer', async () => logger.info('pass'));
    await runWithNewLogContext('cycle-timer', async () => logger.info('pass'));
    const [first, second] = lines.map((line) => String(line.correlationId));

    expect(first).toMatch(/^cycle-timer-[0-9a-f-]{36}$/);
    expect(second).toMatch(/^cycle-timer-[0-9a-f-]{36}$/);
    expect(first).not.toBe(second);
  });

  it('does nothing when asked to annotate outside any context', () => {
    annotateLogContext({ udid: 'NOWHERE' });
    logger.info('outside');

    expect(lines[0]).not.toHaveProperty('udid');
  });
});
