import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

/** The parts of a V8 .cpuprofile (what `node --cpu-prof` writes) the summary reads. */
interface CpuProfile {
  nodes: {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
    children?: number[];
  }[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileEntry {
  name: string;
  selfMs: number;
  totalMs: number;
  share: number;
}

export interface ProfileSummary {
  windowMs: number;
  sampledMs: number;
  /** Time V8 saw the thread idle (waiting for I/O). */
  idleMs: number;
  functions: ProfileEntry[];
  /** Self time by where the code lives: a package, a library of ours, Node's own. */
  areas: ProfileEntry[];
  /**
   * Time by the nearest caller that is not Node's internals: an RSA verify counts for the
   * library that asked for it, a socket write for Node's HTTP and net modules.
   */
  owners: ProfileEntry[];
}

/** Microseconds on the monotonic clock, the clock of the profile's timestamps. */
export interface ProfileWindow {
  startUs: number;
  endUs: number;
}

/** Where a script lives, in a few words: `node_modules/typeorm`, `libs/commands`, `node:internal`. */
export function areaOf(url: string, functionName: string): string {
  if (url === '') {
    return functionName.startsWith('(') ? functionName : '(native)';
  }
  if (url.startsWith('node:')) {
    return 'node:internal';
  }

  const module = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);

  if (module) {
    return `node_modules/${module[1]}`;
  }

  const ours = /dist\/((?:libs|apps)\/[^/]+)/.exec(url);

  return ours ? (ours[1] as string) : url.replace(/^file:\/\//, '');
}

/** The owner of a frame, or undefined for Node internals and natives, which count for their caller. */
function ownerOf(frame: CpuProfile['nodes'][number]['callFrame']): string | undefined {
  const { url, functionName } = frame;

  if (url === '' || (url.startsWith('node:internal/') && !url.startsWith('node:internal/http'))) {
    return functionName === '(garbage collector)' ||
      functionName === '(idle)' ||
      functionName === '(program)'
      ? functionName
      : undefined;
  }
  if (/^node:(internal\/)?(_http|http|net)/.test(url)) {
    return 'node: http and net';
  }

  return areaOf(url, functionName);
}

function label(frame: CpuProfile['nodes'][number]['callFrame']): string {
  const name = frame.functionName || '(anonymous)';

  if (frame.url === '') {
    return name;
  }

  const file = frame.url.replace(/^file:\/\//, '').replace(/^.*\/(node_modules|dist)\//, '$1/');

  return `${name} ${file}:${frame.lineNumber + 1}`;
}

/**
 * Self and total time per function, and self time per area, from the samples inside `windows`
 * (the whole profile without any). A sample lasts until the next one.
 */
export function summarizeProfile(profile: CpuProfile, windows: readonly ProfileWindow[] = []): ProfileSummary {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();

  for (const node of profile.nodes) {
    for (const child of node.children ?? []) {
      parent.set(child, node.id);
    }
  }

  const self = new Map<string, number>();
  const total = new Map<string, number>();
  const areas = new Map<string, number>();
  const owners = new Map<string, number>();
  const spans = windows.length > 0 ? windows : [{ startUs: profile.startTime, endUs: profile.endTime }];
  let time = profile.startTime;
  let sampledUs = 0;
  let idleUs = 0;

  for (let i = 0; i < profile.samples.length; i += 1) {
    time += profile.timeDeltas[i] ?? 0;

    const next =
      i + 1 < profile.samples.length ? time + (profile.timeDeltas[i + 1] ?? 0) : profile.endTime;
    const duration = overlapUs(time, next, spans);

    if (duration === 0) {
      continue;
    }

    const node = byId.get(profile.samples[i] as number);

    if (!node) {
      continue;
    }

    sampledUs += duration;
    if (node.callFrame.functionName === '(idle)') {
      idleUs += duration;
    }

    const name = label(node.callFrame);
    const area = areaOf(node.callFrame.url, node.callFrame.functionName);

    self.set(name, (self.get(name) ?? 0) + duration);
    areas.set(area, (areas.get(area) ?? 0) + duration);

    let owner: string | undefined;

    for (let id: number | undefined = node.id; id !== undefined && owner === undefined;) {
      const frame = byId.get(id)?.callFrame;

      owner = frame ? ownerOf(frame) : undefined;
      id = parent.get(id);
    }
    owner ??= area;
    owners.set(owner, (owners.get(owner) ?? 0) + duration);

    // Total time: every function on the stack once, however often it recurses.
    const seen = new Set<string>();

    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const frame = byId.get(id)?.callFrame;

      if (!frame || frame.functionName === '(root)') {
        continue;
      }

      const key = label(frame);

      if (!seen.has(key)) {
        seen.add(key);
        total.set(key, (total.get(key) ?? 0) + duration);
      }
    }
  }

  const busyUs = Math.max(1, sampledUs - idleUs);
  const shares = (source: Map<string, number>): ProfileEntry[] =>
    [...source]
      .map(([name, us]) => ({ name, selfMs: us / 1000, totalMs: us / 1000, share: us / busyUs }))
      .sort((a, b) => b.selfMs - a.selfMs);
  const entries = (source: Map<string, number>): ProfileEntry[] =>
    [...source]
      .map(([name, us]) => ({
        name,
        selfMs: us / 1000,
        totalMs: (total.get(name) ?? us) / 1000,
        share: us / busyUs,
      }))
      .sort((a, b) => b.selfMs - a.selfMs);

  return {
    windowMs: spans.reduce((sum, span) => sum + span.endUs - span.startUs, 0) / 1000,
    sampledMs: sampledUs / 1000,
    idleMs: idleUs / 1000,
    functions: entries(self),
    areas: shares(areas),
    owners: shares(owners),
  };
}

export function renderProfile(summary: ProfileSummary, top = 25): string {
  const busy = summary.sampledMs - summary.idleMs;
  const row = (entry: ProfileEntry, total: boolean): string =>
    `| ${entry.name.replace(/\|/g, '\\|')} | ${entry.selfMs.toFixed(0)} | ${(entry.share * 100).toFixed(1)}% |` +
    (total ? ` ${entry.totalMs.toFixed(0)} |` : '');
  const byTotal = [...summary.functions]
    .filter((entry) => !entry.name.startsWith('('))
    .sort((a, b) => b.totalMs - a.totalMs)
    .slice(0, top);

  return [
    `Window ${summary.windowMs.toFixed(0)} ms, sampled ${summary.sampledMs.toFixed(0)} ms, ` +
      `idle ${summary.idleMs.toFixed(0)} ms, busy ${busy.toFixed(0)} ms (shares below are of busy time).`,
    '',
    '### Time by owner (Node internals and natives count for their caller)',
    '',
    '| Owner | ms | Share |',
    '| --- | --- | --- |',
    ...summary.owners.slice(0, top).map((entry) => row(entry, false)),
    '',
    '### Self time by area',
    '',
    '| Area | Self ms | Share |',
    '| --- | --- | --- |',
    ...summary.areas.slice(0, top).map((entry) => row(entry, false)),
    '',
    '### Functions by self time',
    '',
    '| Function | Self ms | Share | Total ms |',
    '| --- | --- | --- | --- |',
    ...summary.functions.slice(0, top).map((entry) => row(entry, true)),
    '',
    '### Functions by total time (self + callees)',
    '',
    '| Function | Self ms | Share | Total ms |',
    '| --- | --- | --- | --- |',
    ...byTotal.map((entry) => row(entry, true)),
    '',
  ].join('\n');
}

function overlapUs(from: number, to: number, spans: readonly ProfileWindow[]): number {
  let sum = 0;

  for (const span of spans) {
    sum += Math.max(0, Math.min(to, span.endUs) - Math.max(from, span.startUs));
  }

  return sum;
}

export function readProfile(file: string): CpuProfile {
  return JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
}

// node dist/apps/bench/src/profile-summary.js FILE [START_US END_US]
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [file, start, end] = process.argv.slice(2);

  if (!file) {
    process.stderr.write('usage: profile-summary.js FILE.cpuprofile [START_US END_US]\n');
    process.exitCode = 2;
  } else {
    const windows = start && end ? [{ startUs: Number(start), endUs: Number(end) }] : [];

    process.stdout.write(renderProfile(summarizeProfile(readProfile(file), windows)));
  }
}
