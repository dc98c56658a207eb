import { simulate } from '@turnaround/simulator';

// The device simulator CLI (npm run simulate -- --help). All logic lives in libs/simulator.
process.exitCode = await simulate(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  cwd: process.cwd(),
});
