/**
 * The deployment as Docker would see it, read without a Docker engine: the runtime stage's ENV
 * and CMD from the Dockerfile, and compose.yaml as `docker-compose config` resolves it (anchors
 * merged, variables at their defaults: it runs with no variables of this machine).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { assetPath } from '../../src/util/package-root';

/** the runtime stage's instructions, continuation lines joined, comments dropped */
function runtimeStage(): string[] {
  const text = fs.readFileSync(assetPath('Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
  const lines = text.split('\n').filter((l) => l.trim() !== '' && !l.trim().startsWith('#'));
  const from = lines.map((l, i) => (l.startsWith('FROM ') ? i : -1)).filter((i) => i >= 0);
  return lines.slice(from[from.length - 1]);
}

/** ENV KEY=value … of the runtime stage, as the image's processes get it */
export function dockerfileEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of runtimeStage().filter((l) => l.startsWith('ENV '))) {
    for (const m of line.slice(4).matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S*)/g))
      env[m[1]] = m[2].replace(/^"|"$/g, '');
  }
  return env;
}

/** the JSON-form CMD of the runtime stage: the image's default arguments */
export function dockerfileCmd(): string[] {
  const line = runtimeStage().find((l) => l.startsWith('CMD '));
  if (!line) throw new Error('the Dockerfile has no CMD');
  return JSON.parse(line.slice(4)) as string[];
}

export interface ComposeService {
  image?: string;
  container_name?: string;
  build?: unknown;
  command?: string | string[];
  environment?: Record<string, string | number | null>;
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[]; disable?: boolean };
  restart?: string;
  ports?: unknown[];
  deploy?: { replicas?: number };
  profiles?: string[];
  /** a list in compose files; `docker-compose config` answers a map of network names */
  networks?: string[] | Record<string, unknown>;
  network_mode?: string;
}

export interface ComposeConfig {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
  networks?: Record<string, { internal?: boolean } | null>;
}

/** the networks a service is on (compose's default network when it names none and has no network_mode) */
export function networksOf(s: ComposeService): string[] {
  if (s.network_mode !== undefined) return [];
  if (!s.networks) return ['default'];
  return (Array.isArray(s.networks) ? s.networks : Object.keys(s.networks)).sort();
}

/** the services that share a network with `name` (itself left out) */
export function neighboursOf(config: ComposeConfig, name: string): string[] {
  const mine = new Set(networksOf(config.services[name]));
  return Object.entries(config.services)
    .filter(([other, s]) => other !== name && networksOf(s).some((n) => mine.has(n)))
    .map(([other]) => other)
    .sort();
}

/** the named volumes a service mounts, as volume → [target, mode] */
export function namedMounts(s: ComposeService): Record<string, [string, string]> {
  const out: Record<string, [string, string]> = {};
  for (const v of s.volumes ?? []) {
    const [source, target, mode = 'rw'] = v.split(':');
    if (!source.startsWith('.') && !source.startsWith('/')) out[source] = [target, mode];
  }
  return out;
}

export const hasCommand = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

/** `docker-compose config` of compose.yaml, parsed; throws with its stderr when it refuses */
export function composeConfig(args: string[] = []): ComposeConfig {
  const root = assetPath();
  const r = spawnSync('docker-compose', ['-f', path.join(root, 'compose.yaml'), ...args, 'config'], {
    cwd: root,
    encoding: 'utf8',
    timeout: 30_000,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/' },
  });
  if (r.status !== 0) throw new Error(`docker-compose config exited ${r.status}: ${r.stderr}`);
  return parse(r.stdout);
}

/** a service's command as the argument list Docker passes to the ENTRYPOINT */
export const commandArgs = (cmd: string | string[] | undefined): string[] =>
  Array.isArray(cmd) ? cmd : (cmd ?? '').trim().split(/\s+/).filter(Boolean);
