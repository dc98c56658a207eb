/*
 * How every Turnaround Node process is started: the launcher's children, the benchmark's services,
 * and (written out again, held equal by service-process.spec.ts) the Dockerfile and the start
 * scripts of package.json.
 */

/**
 * V8 lets each process's young generation grow to two 16 MiB semi-spaces, about 32 MB resident
 * per service, far more than a request's short-lived garbage needs: at 8 MiB, signed Idle and
 * TokenUpdate cost the same CPU per request in the bench.
 */
export const SERVICE_NODE_FLAGS: readonly string[] = ['--enable-source-maps', '--max-semi-space-size=8'];

/**
 * glibc gives each thread that allocates its own malloc arena, up to eight per core, and keeps
 * what they freed resident. A service allocates natively from its main thread (SQLite, OpenSSL
 * keys) and from libuv's pool (key generation, file work): with two arenas the embedded default
 * held about 13 MB less after enrolling 10,000 devices, and CPU per request and per RTS cycle
 * moved no more than between runs. Other C libraries ignore the variable.
 */
export const SERVICE_MALLOC_ARENAS = '2';

/** The environment of a service process: `env`, with the arena limit unless `env` sets its own. */
export function serviceProcessEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { ...env, MALLOC_ARENA_MAX: env.MALLOC_ARENA_MAX ?? SERVICE_MALLOC_ARENAS };
}
