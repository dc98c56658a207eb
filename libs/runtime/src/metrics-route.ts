import type { INestApplication } from '@nestjs/common';
import type { Request, Response } from 'express';

import { createLogger, metricsRegistry } from '@turnaround/platform';

/**
 * `GET /metrics`: the process's Prometheus metrics in the text exposition format. Like the probes
 * it sits outside the admin API: it names no device and holds no secret.
 */
export function mountMetricsRoute(app: INestApplication): void {
  const logger = createLogger('Metrics');
  const http = app.getHttpAdapter();

  http.get('/metrics', async (_request: Request, response: Response) => {
    const registry = metricsRegistry();
    try {
      const body = await registry.metrics();
      response.status(200).setHeader('Content-Type', registry.contentType);
      response.end(body);
    } catch (error) {
      logger.error({ err: error }, 'metrics scrape failed');
      response.status(500).json({ code: 'METRICS.SCRAPE_FAILED' });
    }
  });
}
