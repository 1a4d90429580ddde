/**
 * Sentinels that ask for a password (issue #24, item 7): a real Sentinel set whose data nodes and
 * Sentinels all have the ACL user `wizard` and the default user off. The store finds the master
 * with --redis-sentinel-user and --redis-sentinel-password-file, reaches it with
 * --redis-password-file, and follows a failover (the Sentinels' +switch-master message comes on
 * an authenticated subscription); without the Sentinels' password no master is named; `wizard
 * healthcheck` of a worker reads the same settings from the environment. A set on TLS only is
 * reached over TLS, the Sentinels included, with a rediss:// URL and its --redis-ca.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseSentinels, sentinelFromFlags, storeFromFlags, StoreFlags } from '../../src/commands/store-options';
import type { Store } from '../../src/store';
import { joinPrefix } from '../../src/store/format';
import { redisKeys } from '../../src/store/keys';
import { SentinelMaster } from '../../src/store/sentinel';
import { runWizardAsync, waitUntil } from '../helpers/procs';
import { selfSignedCert } from '../helpers/tls';
import { MASTER_NAME, redisCommand, SetAuth, startSentinelSet, TestSentinelSet } from '../helpers/redis-sentinel';

const AUTH: SetAuth = { user: 'wizard', password: 'sentinel-set-password-0123' };
let set: TestSentinelSet;
let dir: string;
let passwordFile: string;
const stores: Store[] = [];

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wizard-sentinel-auth-'));
  passwordFile = path.join(dir, 'password');
  fs.writeFileSync(passwordFile, `${AUTH.password}\n`, { mode: 0o600 });
  set = await startSentinelSet({ auth: AUTH });
}, 60_000);

afterAll(async () => {
  for (const s of stores) await s.close();
  await set?.destroy();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** the flags of a role on this set, as a deploy gives them (the Sentinels' password from the same file) */
const flags = (prefix: string): StoreFlags => ({
  prefix,
  redis: 'redis://wizard@sentinel-master',
  redisPasswordFile: passwordFile,
  redisSentinel: parseSentinels(set.sentinelList),
  redisMaster: MASTER_NAME,
  redisSentinelUser: AUTH.user,
  redisSentinelPasswordFile: passwordFile,
});

test('every server of the set refuses a client that does not authenticate', async () => {
  for (const port of [set.master.port, set.replica.port, ...set.sentinels.map((s) => s.port)]) {
    await expect(redisCommand(port, ['PING'])).rejects.toThrow(/NOAUTH/);
    expect(await redisCommand(port, ['PING'], { auth: AUTH })).toBe('PONG');
  }
});

test('the store finds the master through Sentinels that ask for a password, and follows a failover', async () => {
  const store = await storeFromFlags(flags('sentinel-auth'));
  stores.push(store);
  const [before] = await store.jobs.enqueue([{ type: 'task', params: { op: 'add', a: 1, b: 1 } }]);
  expect(
    await redisCommand(set.master.port, ['EXISTS', redisKeys('sentinel-auth').job(before.id)], { auth: AUTH }),
  ).toBe(1);

  const old = await set.masterPort();
  await set.master.stop(true);
  const promoted = await set.waitForFailover(old);
  const after = await waitUntil(
    async () =>
      (await store.jobs.enqueue([{ type: 'task', params: { op: 'add', a: 2, b: 2 } }]).catch(() => null))?.[0],
    20_000,
    'a write on the new master',
  );
  expect(await redisCommand(promoted, ['EXISTS', redisKeys('sentinel-auth').job(after.id)], { auth: AUTH })).toBe(1);
  expect((await store.reads.job(before.id))?.id).toBe(before.id);
}, 120_000);

test("without the Sentinels' password, or with a wrong one, no Sentinel names the master, and says why", async () => {
  for (const auth of [undefined, { username: AUTH.user, password: 'not-the-password' }]) {
    const master = new SentinelMaster(
      { sentinels: parseSentinels(set.sentinelList), masterName: MASTER_NAME, ...(auth ? { auth } : {}) },
      500,
    );
    try {
      await expect(master.resolve(2000)).rejects.toThrow(/no Sentinel named the master: .*(NOAUTH|WRONGPASS)/);
    } finally {
      master.close();
    }
  }
});

test('`wizard healthcheck --role worker` reaches the master with the settings of the environment', async () => {
  const prefix = 'sentinel-auth-health';
  const store = await storeFromFlags(flags(prefix));
  stores.push(store);
  await joinPrefix(store); // as a role does at start
  const env = {
    WIZARD_PREFIX: prefix,
    REDIS_URL: 'redis://wizard@sentinel-master',
    REDIS_PASSWORD_FILE: passwordFile,
    REDIS_SENTINELS: set.sentinelList,
    REDIS_MASTER_NAME: MASTER_NAME,
    REDIS_SENTINEL_USER: AUTH.user,
    REDIS_SENTINEL_PASSWORD_FILE: passwordFile,
  };
  const ok = await runWizardAsync(['healthcheck', '--role', 'worker', '--timeout-ms', '20000'], env);
  expect({ code: ok.code, stdout: ok.stdout, stderr: ok.stderr }).toEqual({
    code: 0,
    stdout: expect.stringMatching(/^healthy: worker \(redis:\/\/\*\*\*@127\.0\.0\.1:\d+\)\n$/),
    stderr: '',
  });
  const { REDIS_SENTINEL_PASSWORD_FILE: _file, REDIS_SENTINEL_USER: _user, ...withoutSentinelPassword } = env;
  const refused = await runWizardAsync(
    ['healthcheck', '--role', 'worker', '--timeout-ms', '5000'],
    withoutSentinelPassword,
  );
  expect(refused.code).toBe(1);
  expect(refused.stderr).toMatch(/unhealthy: worker .*NOAUTH/);
}, 120_000);

describe('Sentinels on TLS', () => {
  let tlsSet: TestSentinelSet;
  let cert: string;
  let key: string;
  beforeAll(async () => {
    ({ cert, key } = selfSignedCert(dir));
    tlsSet = await startSentinelSet({ auth: AUTH, tls: { cert, key, ca: cert } });
  }, 60_000);
  afterAll(() => tlsSet?.destroy());

  const tlsFlags = (prefix: string): StoreFlags => ({
    ...flags(prefix),
    redis: 'rediss://wizard@sentinel-master',
    redisSentinel: parseSentinels(tlsSet.sentinelList),
    redisCa: cert,
  });

  test('a rediss:// --redis reaches the Sentinels over TLS too, with the same --redis-ca; --redis-sentinel-tls no does not reach them', async () => {
    const store = await storeFromFlags(tlsFlags('sentinel-tls'));
    stores.push(store);
    const [job] = await store.jobs.enqueue([{ type: 'task', params: { op: 'add', a: 1, b: 2 } }]);
    expect(
      await redisCommand(tlsSet.master.port, ['EXISTS', redisKeys('sentinel-tls').job(job.id)], {
        auth: AUTH,
        tls: { cert, key, ca: cert },
      }),
    ).toBe(1);

    const plain = sentinelFromFlags({ ...tlsFlags('x'), redisSentinelTls: 'no' })!;
    expect(plain.tls).toBeUndefined();
    const master = new SentinelMaster(plain, 500);
    try {
      await expect(master.resolve(2000)).rejects.toThrow(/no Sentinel named the master/);
    } finally {
      master.close();
    }
  }, 120_000);
});
