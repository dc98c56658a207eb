import { SERVICE_MALLOC_ARENAS, serviceProcessEnv } from './service-process.js';

describe('the environment of a service process', () => {
  it('limits malloc arenas unless the caller chose a number, and keeps everything else', () => {
    expect(serviceProcessEnv({ PORT: '8081' })).toEqual({ PORT: '8081', MALLOC_ARENA_MAX: SERVICE_MALLOC_ARENAS });
    expect(serviceProcessEnv({ MALLOC_ARENA_MAX: '8' }).MALLOC_ARENA_MAX).toBe('8');
  });

  it('leaves the environment it was given as it was', () => {
    const env = { PORT: '8081' };
    serviceProcessEnv(env);

    expect(env).toEqual({ PORT: '8081' });
  });
});
