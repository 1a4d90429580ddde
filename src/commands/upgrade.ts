/**
 * `wizard upgrade status|finish`: a rolling upgrade's two steps on a prefix, straight on Redis
 * (src/store/upgrade.ts; docs/operations.md "Upgrading: roll it"). `status` lists the live roles
 * with their versions and the prefix's format; `finish` switches on the newest format once no
 * older role is alive, or refuses (exit 2) naming them.
 */
import { Command } from 'commander';
import { createUi } from '../client/ui';
import { UsageError } from '../core/errors';
import type { RedisStore } from '../store/redis';
import type { LiveRole } from '../store/upgrade';
import { foldGroups } from './help';
import { jsonOption } from './client-options';
import { withOptions } from './parse';
import { storeFromFlags, storeOptions, type StoreFlags } from './store-options';

/** the store options an upgrade step takes: none that would write (a shard count) or name a node */
const options = () => [
  ...storeOptions().filter((o) => !['--shards', '--node-id', '--allow-eviction'].includes(o.long ?? '')),
  jsonOption(),
];

/** the Redis store the flags name, for a step that only reads and switches the format */
async function redisOf(flags: StoreFlags): Promise<RedisStore> {
  const store = await storeFromFlags(flags);
  if (store.kind === 'memory') throw new UsageError('--redis is needed: the in-memory store is never shared');
  return store as RedisStore;
}

const describe = (r: LiveRole): string =>
  `${r.role} ${r.nodeId} (${r.version === null ? (r.seenAt === null ? 'no heartbeat' : 'no version: older') : `${r.version}, format ${r.format}`})`;

const status = withOptions(
  new Command('status').description("the live roles, their versions, and the prefix's format"),
  options(),
).action(async (flags: StoreFlags & { json?: boolean }) => {
  const ui = createUi({ json: flags.json });
  const redis = await redisOf(flags);
  try {
    const { FORMAT_VERSION, readFormat } = await import('../store/format');
    const { liveRoles, reads } = await import('../store/upgrade');
    const [format, roles] = await Promise.all([readFormat(redis), liveRoles(redis)]);
    const older = roles.filter((r) => !reads(r, FORMAT_VERSION));
    if (ui.json)
      return ui.data({ prefix: flags.prefix, format, newest_format: FORMAT_VERSION, roles, older: older.length });
    ui.line(`prefix '${flags.prefix}' at ${redis.location}: format ${format ?? 'none (no role has joined it)'}`);
    ui.table(
      ['role', 'node', 'version', 'format', 'seen'],
      roles.map((r) => [
        r.role,
        r.nodeId,
        r.version ?? '(none: older)',
        r.format,
        r.seenAt === null ? 'no heartbeat' : `${Math.max(0, Date.now() - r.seenAt)} ms ago`,
      ]),
    );
    ui.line(
      format === String(FORMAT_VERSION)
        ? 'the upgrade is finished'
        : older.length
          ? `${older.length} of them older than format ${FORMAT_VERSION}: upgrade them, then \`wizard upgrade finish\``
          : `every role reads format ${FORMAT_VERSION}: \`wizard upgrade finish\` switches it on`,
    );
  } finally {
    await redis.close();
  }
});

const finish = withOptions(
  new Command('finish').description(
    'switch the prefix to the newest format once no older role is alive (exit 2 naming them if one is)',
  ),
  options(),
).action(async (flags: StoreFlags & { json?: boolean }) => {
  const ui = createUi({ json: flags.json });
  const redis = await redisOf(flags);
  try {
    const { finishUpgrade } = await import('../store/upgrade');
    const r = await finishUpgrade(redis);
    const where = `prefix '${flags.prefix}' at ${redis.location}`;
    if (r.outcome === 'refused') throw new UsageError(`${where}: not finished: ${r.reason}`);
    if (r.outcome === 'older roles')
      throw new UsageError(
        `${where} stays at format ${r.from}: ${r.older.length} older role(s) alive: ${r.older.map(describe).join(', ')}; upgrade or stop them, then run this again`,
      );
    if (ui.json) return ui.data(r);
    ui.line(
      r.outcome === 'already'
        ? `${where} is at format ${r.to} already`
        : `${where} switched from format ${r.from} to ${r.to}; ${r.roles.length} live role(s), every one reads it`,
    );
  } finally {
    await redis.close();
  }
});

export const upgradeCommand = new Command('upgrade')
  .description("a rolling upgrade: the live roles' versions (status), then the newest format switched on (finish)")
  .addCommand(foldGroups(status, ['store']))
  .addCommand(foldGroups(finish, ['store']));
