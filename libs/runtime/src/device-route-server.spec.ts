import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import { Controller, INestApplication, Module, Put, Req, Res } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NextFunction, Request, Response } from 'express';

import { currentLogContext, DeviceRoute, setLogLevel, writeDeviceReply } from '@turnaround/platform';

import { serveDeviceRoutesDirectly } from './device-route-server.js';
import { requestContext } from './request-context.js';

const answered: string[] = [];

@Controller('mdm')
class DeviceController {
  @Put('server')
  async put(@Req() request: Request, @Res() response: Response): Promise<void> {
    await this.serve(request, response);
  }

  @DeviceRoute(['PUT'], '/mdm/server')
  async serve(request: IncomingMessage, response: ServerResponse): Promise<void> {
    answered.push(request.url ?? '');
    writeDeviceReply(response, { status: 200, body: currentLogContext()?.correlationId ?? 'none' });
  }

  @DeviceRoute(['PUT'], '/mdm/broken')
  async broken(): Promise<void> {
    throw new Error('fails without answering');
  }
}

@Module({ controllers: [DeviceController] })
class DeviceModule {}

describe('device routes served ahead of Express', () => {
  let app: INestApplication;
  let url = '';
  const throughExpress: string[] = [];

  beforeAll(async () => {
    setLogLevel('silent');
    app = await NestFactory.create(DeviceModule, { bodyParser: false, logger: false });
    app.use((request: Request, _response: Response, next: NextFunction) => {
      throughExpress.push(request.url);
      next();
    });
    app.use(requestContext);
    serveDeviceRoutesDirectly(app);
    await app.listen(0, '127.0.0.1');
    url = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await app.close();
  });

  beforeEach(() => {
    answered.length = 0;
    throughExpress.length = 0;
  });

  it('answers a matching request without Express, in a log context of its own', async () => {
    const response = await fetch(`${url}/mdm/server?tenant=a`, {
      method: 'PUT',
      headers: { 'X-Request-Id': 'req-1' },
    });

    expect(await response.text()).toBe('req-1');
    expect(response.headers.get('x-request-id')).toBe('req-1');
    expect(answered).toEqual(['/mdm/server?tenant=a']);
    expect(throughExpress).toEqual([]);
  });

  it('leaves every other method and spelling to Express, which reaches the same method', async () => {
    const other = await fetch(`${url}/mdm/server/`, { method: 'PUT' });
    const get = await fetch(`${url}/mdm/server`);

    expect(other.status).toBe(200);
    expect(other.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(answered).toEqual(['/mdm/server/']);
    expect(get.status).toBe(404);
    expect(throughExpress).toEqual(['/mdm/server/', '/mdm/server']);
  });

  it('answers 500 for a route that failed without answering, and keeps serving', async () => {
    const broken = await fetch(`${url}/mdm/broken`, { method: 'PUT' });
    const next = await fetch(`${url}/mdm/server`, { method: 'PUT' });

    expect(broken.status).toBe(500);
    expect(next.status).toBe(200);
  });
});
