/**
 * deploy/k8s, checked with no cluster: every manifest validates against the Kubernetes schemas
 * (kubernetes-models), kustomization.yaml lists every file, each Deployment runs a real `wizard`
 * role with flags, probes and environment variables that role accepts, and the pods' own
 * environment (the ConfigMap, the Secrets made by the docs' commands, each Deployment's env
 * and Secret files) starts a working cluster of real `wizard` processes on this machine, on a
 * redis-server that loads the Secret's ACL as the Redis pod does. The NetworkPolicies are
 * evaluated for every pair of pods (only api, worker and scheduler reach Redis), and the Ingress
 * serves TLS with a Secret the docs make.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ts from 'typescript';
import { parse, parseAllDocuments } from 'yaml';
import { parseTokenList } from '../../src/core/tokens';
import { WORKER_DEFAULTS } from '../../src/roles/worker';
import { assetPath } from '../../src/util/package-root';
import { redisAclFile } from '../../src/commands/secret-files';
import { testPrefix } from '../helpers/env';
import { http, killAll, runWizard, spawnWizard, waitUntil, WizardProc } from '../helpers/procs';
import { freePort, startRedisServer, TestRedis } from '../helpers/redis-server';
import { redisCommand } from '../helpers/redis-sentinel';

const dir = assetPath('deploy', 'k8s');
const read = (file: string) => fs.readFileSync(path.join(dir, file), 'utf8');

type Labels = Record<string, string>;
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    secretKeyRef?: { name: string; key: string };
    fieldRef?: { fieldPath: string };
    resourceFieldRef?: { containerName?: string; resource: string; divisor?: string };
  };
}
interface Probe {
  exec?: { command: string[] };
  httpGet?: { path: string; port: string | number };
}
interface Container {
  name: string;
  image: string;
  args?: string[];
  command?: string[];
  env?: EnvVar[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  ports?: { name?: string; containerPort: number }[];
  resources?: { requests?: Labels; limits?: Labels };
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  startupProbe?: Probe;
  lifecycle?: { preStop?: { exec?: { command: string[] } } };
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
  securityContext?: { readOnlyRootFilesystem?: boolean };
}
interface SecretVolume {
  name: string;
  secret?: { secretName: string; items?: { key: string; path: string }[] };
  emptyDir?: Labels;
}
interface PodTemplate {
  metadata: { labels: Labels };
  spec: { containers: Container[]; terminationGracePeriodSeconds?: number; volumes?: SecretVolume[] };
}
interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Labels; annotations?: Labels };
  spec?: unknown;
  data?: Labels;
}
interface Workload extends K8sObject {
  spec: {
    replicas?: number;
    selector: { matchLabels: Labels };
    template: PodTemplate;
    serviceName?: string;
    volumeClaimTemplates?: { metadata: { name: string } }[];
  };
}
interface Service extends K8sObject {
  spec: {
    selector: Labels;
    ports?: { name?: string; port: number; targetPort?: string | number }[];
    clusterIP?: string;
  };
}
interface Ingress extends K8sObject {
  spec: {
    rules: { host: string; http: { paths: { backend: unknown }[] } }[];
    tls: { hosts: string[]; secretName: string }[];
  };
}
interface PodDisruptionBudget extends K8sObject {
  spec: { selector: { matchLabels: Labels }; minAvailable: number };
}
interface HpaMetric {
  type: string;
  external?: { metric: { name: string; selector: { matchLabels: Labels } }; target: unknown };
}
interface HorizontalPodAutoscaler extends K8sObject {
  spec: { scaleTargetRef: unknown; metrics: HpaMetric[]; minReplicas: number; maxReplicas: number };
}

const kustomization = parse(read('kustomization.yaml')) as {
  namespace: string;
  resources: string[];
  images?: { name: string; newName?: string; newTag?: string }[];
};
const manifests = kustomization.resources.map((file) => {
  const docs = parseAllDocuments(read(file));
  for (const d of docs) if (d.errors.length > 0) throw new Error(`${file}: ${d.errors[0].message}`);
  return { file, objects: docs.map((d) => d.toJS() as K8sObject).filter((o) => o !== null) };
});
const objects = manifests.flatMap((m) => m.objects);
const find = <T extends K8sObject = K8sObject>(kind: string, name: string): T => {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`no ${kind} ${name} in deploy/k8s`);
  return o as T;
};
const ROLES = ['api', 'bot', 'scheduler', 'worker'] as const;
const deployments = objects.filter((o): o is Workload => o.kind === 'Deployment');
const deployment = (role: string) => find<Workload>('Deployment', role);
const containerOf = (w: Workload) => w.spec.template.spec.containers[0];
const configMap = find('ConfigMap', 'wizard-config');
const matches = (selector: Labels, labels: Labels) => Object.entries(selector).every(([k, v]) => labels[k] === v);

/** a kubernetes-models class for an apiVersion and kind, e.g. apps/v1 Deployment */
function modelFor(apiVersion: string, kind: string): new (data: unknown) => { validate(): void } {
  const mod = `kubernetes-models/${apiVersion}`; // v1, apps/v1, networking.k8s.io/v1, …
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- a module named at run time, for synchronous callers
  const model = (require(mod) as Record<string, new (data: unknown) => { validate(): void }>)[kind];
  if (!model) throw new Error(`kubernetes-models has no ${apiVersion} ${kind}`);
  return model;
}

/** what `wizard <args> --help-all` lists: its flags, its environment variables, the choices of each flag */
function helpOf(args: string[]): { flags: Set<string>; env: Set<string>; choices: Map<string, string[]> } {
  const r = runWizard([...args, '--help-all']);
  if (r.code !== 0) throw new Error(`wizard ${args.join(' ')} --help-all exited ${r.code}: ${r.stderr}`);
  const text = r.stdout;
  const flags = new Set([...text.matchAll(/^\s+(?:-\w, )?(--[a-z][\w-]*)/gm)].map((m) => m[1]));
  const env = new Set([...text.matchAll(/env:\s+([A-Z][A-Z0-9_]*)/g)].map((m) => m[1]));
  const choices = new Map<string, string[]>();
  for (const block of text.split(/\n(?=\s+-)/)) {
    const flag = /^\s+(?:-\w, )?(--[a-z][\w-]*)/.exec(block)?.[1];
    const list = /choices:\s+((?:"[^"]*",?\s*)+)/.exec(block)?.[1];
    if (flag && list)
      choices.set(
        flag,
        [...list.matchAll(/"([^"]*)"/g)].map((m) => m[1]),
      );
  }
  return { flags, env, choices };
}
const helps = new Map<string, ReturnType<typeof helpOf>>();
const help = (role: string) => helps.get(role) ?? helps.set(role, helpOf([role])).get(role)!;

/** variables a role reads that are not flags (so no --help lists them), and the file that reads each */
const READ_OUTSIDE_FLAGS: Record<string, string> = { LOG_LEVEL: 'src/util/log.ts' };

/**
 * How long the worker takes from SIGTERM to exit at most: it waits for its claim loop
 * (blockMs + 500 ms, src/roles/worker.ts close()), then for jobs in flight (drainMs), then
 * releases the rest.
 */
const WORKER_DRAIN_S = (WORKER_DEFAULTS.blockMs + 500 + WORKER_DEFAULTS.drainMs) / 1000;

/**
 * Fields the Kubernetes API does not define, which its JSON schemas let through (the API's
 * OpenAPI leaves objects open): each object is type-checked as an object literal of its
 * kubernetes-models interface, whose excess-property check names any unknown field.
 */
function unknownFields(objs: { file: string; object: K8sObject }[]): string[] {
  const file = assetPath('test', 'e2e', 'k8s-manifests.virtual.ts'); // never written: served to the compiler below
  const decls = objs.map(
    ({ object: o }, i) =>
      `import type { I${o.kind} as T${i} } from 'kubernetes-models/${o.apiVersion}/${o.kind}';\nexport const o${i}: T${i} = ${JSON.stringify(o)};\n`,
  );
  const starts = decls.map((_, i) => decls.slice(0, i).join('').length);
  const source = decls.join('');
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    module: ts.ModuleKind.CommonJS,
    moduleResolution: ts.ModuleResolutionKind.Node10,
    target: ts.ScriptTarget.ES2022,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const { getSourceFile, fileExists, readFile } = host;
  host.getSourceFile = (name, lang, ...rest) =>
    name === file ? ts.createSourceFile(name, source, lang) : getSourceFile.call(host, name, lang, ...rest);
  host.fileExists = (name) => name === file || fileExists.call(host, name);
  host.readFile = (name) => (name === file ? source : readFile.call(host, name));
  const program = ts.createProgram([file], options, host);
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const i = starts.filter((s) => s <= (d.start ?? 0)).length - 1;
    return `${objs[i]?.file ?? '?'}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`;
  });
}

test('kustomization.yaml lists every manifest of deploy/k8s once, and every file it lists exists', () => {
  const onDisk = fs
    .readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml')
    .sort();
  expect([...kustomization.resources].sort()).toEqual(onDisk);
  expect(new Set(kustomization.resources).size).toBe(kustomization.resources.length);
  for (const f of kustomization.resources) expect(fs.existsSync(path.join(dir, f))).toBe(true);
  expect(kustomization.namespace).toBe(find('Namespace', 'wizard').metadata.name);
  // the image the Deployments name is set in one place, at the package's version
  expect(kustomization.images).toEqual([
    {
      name: 'wizard',
      newName: 'wizard',
      newTag: (JSON.parse(fs.readFileSync(assetPath('package.json'), 'utf8')) as { version: string }).version,
    },
  ]);
});

test.each(manifests.map((m) => [m.file, m.objects] as const))(
  '%s holds one object that validates against the Kubernetes schemas',
  (_file, objs) => {
    expect(objs).toHaveLength(1);
    const [o] = objs;
    expect(() => new (modelFor(o.apiVersion, o.kind))(o).validate()).not.toThrow();
    expect(o.metadata.labels?.['app.kubernetes.io/name']).toBe('wizard');
    expect(o.metadata).not.toHaveProperty('namespace'); // kustomization.yaml sets it
  },
);

test('the schema check can fail: a Deployment with a word for its replicas and a named containerPort is refused', () => {
  const broken = structuredClone(deployment('api'));
  (broken.spec as { replicas: unknown }).replicas = 'two';
  expect(() => new (modelFor('apps/v1', 'Deployment'))(broken).validate()).toThrow(/replicas/);
  const badPort = structuredClone(deployment('api'));
  (containerOf(badPort).ports![0] as { containerPort: unknown }).containerPort = 'http';
  expect(() => new (modelFor('apps/v1', 'Deployment'))(badPort).validate()).toThrow(/containerPort/);
});

test('no manifest has a field the Kubernetes API does not define (and a misspelt one is found)', () => {
  const typo = structuredClone(deployment('api'));
  const c = containerOf(typo) as Container & { livenessprobe?: unknown };
  c.livenessprobe = c.livenessProbe;
  const all = [
    ...manifests.flatMap((m) => m.objects.map((object) => ({ file: m.file, object }))),
    { file: 'typo', object: typo },
  ];
  const errors = unknownFields(all);
  expect(errors.filter((e) => !e.startsWith('typo: '))).toEqual([]);
  expect(errors).toEqual([expect.stringMatching(/^typo: .*livenessprobe\W+ does not exist in type 'IContainer'/)]);
});

/** the Secrets a workload's pods read, as `name/key`: by env (secretKeyRef) or as files (a secret volume's items) */
function secretKeysOf(w: Workload): string[] {
  const env = w.spec.template.spec.containers.flatMap((c) =>
    (c.env ?? []).flatMap((e) =>
      e.valueFrom?.secretKeyRef ? [`${e.valueFrom.secretKeyRef.name}/${e.valueFrom.secretKeyRef.key}`] : [],
    ),
  );
  const files = (w.spec.template.spec.volumes ?? []).flatMap((v) =>
    v.secret ? (v.secret.items ?? []).map((i) => `${v.secret!.secretName}/${i.key}`) : [],
  );
  return [...env, ...files].sort();
}
const redisWorkload = () => find<Workload>('StatefulSet', 'redis');

test('no Secret is committed: the tokens and the Redis password come from the Secrets wizard-tokens and wizard-redis made at install time, each pod reading only its own keys', () => {
  expect(objects.filter((o) => o.kind === 'Secret')).toEqual([]);
  const password = 'wizard-redis/password';
  expect(Object.fromEntries([...deployments, redisWorkload()].map((w) => [w.metadata.name, secretKeysOf(w)]))).toEqual({
    api: ['wizard-tokens/ADMIN_TOKEN', 'wizard-tokens/WIZARD_API_TOKENS', password].sort(),
    bot: ['wizard-tokens/WIZARD_TOKEN'], // the bot token, and nothing else
    worker: [password],
    scheduler: [password],
    redis: [password, 'wizard-redis/users.acl'].sort(),
  });
});

test('one Deployment per role, each running `wizard <role>` from the image, with flags the role accepts', () => {
  expect(deployments.map((d) => d.metadata.name).sort()).toEqual([...ROLES]);
  for (const role of ROLES) {
    const d = deployment(role);
    const c = containerOf(d);
    expect(d.spec.template.spec.containers).toHaveLength(1);
    expect({ role, image: c.image, command: c.command, first: c.args?.[0] }).toEqual({
      role,
      image: 'wizard',
      command: undefined,
      first: role,
    });
    const flags = (c.args ?? []).filter((a) => a.startsWith('-')).map((a) => a.split('=')[0]);
    for (const f of flags)
      expect({ role, flag: f, known: help(role).flags.has(f) }).toEqual({ role, flag: f, known: true });
    expect(matches(d.spec.selector.matchLabels, d.spec.template.metadata.labels)).toBe(true);
    expect(d.spec.template.metadata.labels['app.kubernetes.io/component']).toBe(role);
  }
});

test.each(ROLES)('%s has requests and limits for CPU and memory, and a liveness and a readiness probe', (role) => {
  const c = containerOf(deployment(role));
  for (const kind of ['requests', 'limits'] as const)
    expect(Object.keys(c.resources?.[kind] ?? {}).sort()).toEqual(['cpu', 'memory']);
  expect(c.livenessProbe).toBeDefined();
  expect(c.readinessProbe).toBeDefined();
});

test("every pod's root filesystem is read-only; the scheduler drains the datalake into a volume mounted writable at the image's WIZARD_DATALAKE_DIR", () => {
  for (const role of ROLES) expect(containerOf(deployment(role)).securityContext?.readOnlyRootFilesystem).toBe(true);
  const lakeDir = /^ENV WIZARD_DATALAKE_DIR=(\S+)$/m.exec(fs.readFileSync(assetPath('Dockerfile'), 'utf8'))?.[1];
  expect(lakeDir).toBe('/var/lib/wizard-datalake');
  const scheduler = deployment('scheduler');
  const mount = containerOf(scheduler).volumeMounts?.find((m) => m.mountPath === lakeDir);
  expect(mount?.readOnly).toBeFalsy();
  expect(scheduler.spec.template.spec.volumes?.find((v) => v.name === mount?.name)).toMatchObject({ emptyDir: {} });
});

test('the api probes GET /healthz on the port it listens on', () => {
  const c = containerOf(deployment('api'));
  const port = c.ports?.find((p) => p.name === 'http');
  expect(port?.containerPort).toBe(Number(configMap.data?.PORT));
  for (const probe of [c.livenessProbe, c.readinessProbe, c.startupProbe])
    expect(probe?.httpGet).toEqual({ path: '/healthz', port: 'http' });
});

test.each(['worker', 'scheduler', 'bot'])(
  'the %s probes run `wizard healthcheck --role <its role>`, which healthcheck accepts',
  (role) => {
    const hc = helpOf(['healthcheck']);
    const c = containerOf(deployment(role));
    for (const probe of [c.livenessProbe, c.readinessProbe]) {
      const cmd = probe?.exec?.command ?? [];
      expect(cmd).toEqual(['wizard', 'healthcheck', '--role', role]);
      for (const f of cmd.filter((a) => a.startsWith('--'))) expect(hc.flags.has(f)).toBe(true);
      expect(hc.choices.get('--role')).toContain(cmd[cmd.indexOf('--role') + 1]);
    }
  },
);

test('every variable of the ConfigMap, and every env a Deployment sets, is one its roles read', () => {
  const readers = (name: string, roles: readonly string[]) => roles.filter((r) => help(r).env.has(name));
  const usesConfig = ROLES.filter((r) =>
    containerOf(deployment(r)).envFrom?.some((e) => e.configMapRef?.name === 'wizard-config'),
  );
  expect(usesConfig).toEqual([...ROLES]);
  for (const name of Object.keys(configMap.data ?? {})) {
    const outside = READ_OUTSIDE_FLAGS[name];
    if (outside) expect(fs.readFileSync(assetPath(outside), 'utf8')).toContain(`process.env.${name}`);
    else expect({ name, readBy: readers(name, usesConfig).length > 0 }).toEqual({ name, readBy: true });
  }
  for (const role of ROLES) {
    for (const e of containerOf(deployment(role)).env ?? [])
      expect({ role, env: e.name, read: help(role).env.has(e.name) }).toEqual({ role, env: e.name, read: true });
  }
  // the worker's pool gets a thread per CPU of its own limit
  const threads = containerOf(deployment('worker')).env?.find((e) => e.name === 'WIZARD_THREADS');
  expect(threads?.valueFrom?.resourceFieldRef).toEqual({
    containerName: 'worker',
    resource: 'limits.cpu',
    divisor: '1',
  });
});

test(`every pod's terminationGracePeriodSeconds outlasts the worker's drain (${WORKER_DRAIN_S} s) and the api's preStop and close`, () => {
  for (const role of ROLES) {
    const grace = deployment(role).spec.template.spec.terminationGracePeriodSeconds ?? 30;
    expect({ role, longer: grace > WORKER_DRAIN_S }).toEqual({ role, longer: true });
  }
  const api = deployment('api');
  const preStop = containerOf(api).lifecycle?.preStop?.exec?.command ?? [];
  expect(preStop[0]).toBe('sleep');
  // the api's close() waits 3 s at most for open connections (src/roles/api/index.ts)
  expect(api.spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThan(Number(preStop[1]) + 3);
});

test('the api: a Service on its port, an Ingress that keeps Server-Sent Events unbuffered, a PodDisruptionBudget that leaves one pod', () => {
  const api = deployment('api');
  const podLabels = api.spec.template.metadata.labels;
  const service = find<Service>('Service', 'api');
  expect(matches(service.spec.selector, podLabels)).toBe(true);
  expect(service.spec.ports).toEqual([{ name: 'http', port: Number(configMap.data?.PORT), targetPort: 'http' }]);
  expect(configMap.data?.WIZARD_API_URL).toBe(`http://api:${configMap.data?.PORT}`); // the bots go through the Service

  const ingress = find<Ingress>('Ingress', 'api');
  expect(ingress.metadata.annotations?.['nginx.ingress.kubernetes.io/proxy-buffering']).toBe('off');
  expect(
    Number(ingress.metadata.annotations?.['nginx.ingress.kubernetes.io/proxy-read-timeout']),
  ).toBeGreaterThanOrEqual(3600);
  const backends = ingress.spec.rules.flatMap((r) => r.http.paths.map((p) => p.backend));
  expect(backends).toEqual([{ service: { name: 'api', port: { name: 'http' } } }]);

  const pdb = find<PodDisruptionBudget>('PodDisruptionBudget', 'api');
  expect(matches(pdb.spec.selector.matchLabels, podLabels)).toBe(true);
  expect(pdb.spec.minAvailable).toBe(1);
  expect(api.spec.replicas).toBeGreaterThan(pdb.spec.minAvailable);
});

test('workers scale on the waiting jobs of their queue: an autoscaling/v2 HPA on the External metric wizard_queue_jobs', () => {
  const hpa = find<HorizontalPodAutoscaler>('HorizontalPodAutoscaler', 'worker');
  expect(hpa.apiVersion).toBe('autoscaling/v2');
  expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'worker' });
  const queue = configMap.data?.WIZARD_QUEUE ?? 'default'; // the worker's --queue
  const external = hpa.spec.metrics.filter((m) => m.type === 'External');
  expect(external).toEqual([
    {
      type: 'External',
      external: {
        metric: { name: 'wizard_queue_jobs', selector: { matchLabels: { queue, status: 'waiting' } } },
        target: { type: 'AverageValue', averageValue: '20' },
      },
    },
  ]);
  expect(hpa.spec.minReplicas).toBeLessThan(hpa.spec.maxReplicas);
  // the HPA owns the worker's replicas: one in the Deployment would undo it at each apply
  expect(deployment('worker').spec).not.toHaveProperty('replicas');
});

test('the scheduler runs two replicas (one leads); Redis is a StatefulSet with AOF on a volume, behind the headless Service REDIS_URL names', () => {
  expect(deployment('scheduler').spec.replicas).toBe(2);
  const redis = find<Workload>('StatefulSet', 'redis');
  const args = containerOf(redis).args ?? [];
  expect(args[args.indexOf('--appendonly') + 1]).toBe('yes');
  expect(args[args.indexOf('--maxmemory-policy') + 1]).toBe('noeviction');
  expect(redis.spec.volumeClaimTemplates?.map((v) => v.metadata.name)).toEqual(['data']);
  const service = find<Service>('Service', redis.spec.serviceName!);
  expect(service.spec.clusterIP).toBe('None');
  expect(matches(service.spec.selector, redis.spec.template.metadata.labels)).toBe(true);
  expect(configMap.data?.REDIS_URL).toBe(`redis://wizard@${redis.metadata.name}-0.${service.metadata.name}:6379`);
});

test('Redis asks for the ACL user: it loads users.acl of the Secret wizard-redis, its probes authenticate; api, worker and scheduler read the password as a file, REDIS_PASSWORD_FILE', () => {
  const redis = redisWorkload();
  const c = containerOf(redis);
  const args = c.args ?? [];
  const aclFile = args[args.indexOf('--aclfile') + 1];
  const mount = c.volumeMounts?.find((m) => aclFile.startsWith(`${m.mountPath}/`));
  const volume = redis.spec.template.spec.volumes?.find((v) => v.name === mount?.name);
  expect({ readOnly: mount?.readOnly, secret: volume?.secret }).toEqual({
    readOnly: true,
    secret: {
      secretName: 'wizard-redis',
      items: [{ key: 'users.acl', path: aclFile.slice(mount!.mountPath.length + 1) }],
    },
  });
  for (const probe of [c.livenessProbe, c.readinessProbe])
    expect(probe?.exec?.command).toEqual(['sh', '-c', 'valkey-cli --user wizard ping | grep -q PONG']);
  expect(c.env).toEqual([
    { name: 'REDISCLI_AUTH', valueFrom: { secretKeyRef: { name: 'wizard-redis', key: 'password' } } },
  ]);
  expect(new URL(String(configMap.data?.REDIS_URL)).username).toBe('wizard');
  for (const role of ['api', 'worker', 'scheduler']) {
    const d = deployment(role);
    const file = containerOf(d).env?.find((e) => e.name === 'REDIS_PASSWORD_FILE')?.value ?? '';
    const m = containerOf(d).volumeMounts?.find((x) => file.startsWith(`${x.mountPath}/`));
    const v = d.spec.template.spec.volumes?.find((x) => x.name === m?.name);
    expect({ role, readOnly: m?.readOnly, secret: v?.secret }).toEqual({
      role,
      readOnly: true,
      secret: { secretName: 'wizard-redis', items: [{ key: 'password', path: file.slice(m!.mountPath.length + 1) }] },
    });
  }
  expect(containerOf(deployment('bot')).env?.map((e) => e.name)).not.toContain('REDIS_PASSWORD_FILE');
});

/** a NetworkPolicy's pod selector: matchLabels and matchExpressions (In, NotIn, Exists, DoesNotExist) */
interface Selector {
  matchLabels?: Labels;
  matchExpressions?: { key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[] }[];
}
interface NetworkPolicy extends K8sObject {
  spec: {
    podSelector: Selector;
    policyTypes: string[];
    ingress?: {
      from?: { podSelector?: Selector; namespaceSelector?: Selector; ipBlock?: unknown }[];
      ports?: { protocol?: string; port: string | number }[];
    }[];
  };
}
function selects(sel: Selector, labels: Labels): boolean {
  return (
    Object.entries(sel.matchLabels ?? {}).every(([k, v]) => labels[k] === v) &&
    (sel.matchExpressions ?? []).every((e) => {
      const has = e.key in labels;
      if (e.operator === 'Exists') return has;
      if (e.operator === 'DoesNotExist') return !has;
      const inValues = has && (e.values ?? []).includes(labels[e.key]);
      return e.operator === 'In' ? inValues : !inValues;
    })
  );
}

/**
 * who may open a connection to a workload's named port, as Kubernetes evaluates the namespace's
 * NetworkPolicies: a pod no policy selects takes anything; a selected one takes what one of their
 * ingress rules allows. `source` is a workload of the install, or 'elsewhere' (another namespace,
 * the ingress controller, a node).
 */
function mayConnect(
  policies: NetworkPolicy[],
  source: Workload | 'elsewhere',
  target: Workload,
  portName: string,
): boolean {
  const targetLabels = target.spec.template.metadata.labels;
  const applying = policies.filter(
    (p) => p.spec.policyTypes.includes('Ingress') && selects(p.spec.podSelector, targetLabels),
  );
  if (applying.length === 0) return true;
  return applying.some((p) =>
    (p.spec.ingress ?? []).some((rule) => {
      const portOk = !rule.ports || rule.ports.some((x) => x.port === portName);
      const fromOk =
        !rule.from ||
        rule.from.some(
          (f) =>
            source !== 'elsewhere' &&
            f.podSelector !== undefined &&
            f.namespaceSelector === undefined &&
            f.ipBlock === undefined &&
            selects(f.podSelector, source.spec.template.metadata.labels),
        );
      return portOk && fromOk;
    }),
  );
}

test('NetworkPolicies: Redis takes connections from api, worker and scheduler pods alone; the api takes its port from anywhere, the workers their metrics; the scheduler and the bots take none', () => {
  const policies = objects.filter((o): o is NetworkPolicy => o.kind === 'NetworkPolicy');
  const workloads: Workload[] = [...deployments, redisWorkload()];
  const sources: (Workload | 'elsewhere')[] = [...workloads, 'elsewhere'];
  const nameOf = (w: Workload | 'elsewhere') => (w === 'elsewhere' ? w : w.metadata.name);
  const reach: Record<string, string[]> = {};
  for (const target of workloads) {
    for (const port of target.spec.template.spec.containers.flatMap((c) => (c.ports ?? []).map((p) => p.name!))) {
      reach[`${target.metadata.name}:${port}`] = sources
        .filter((src) => mayConnect(policies, src, target, port))
        .map(nameOf)
        .sort();
    }
  }
  const everyone = sources.map(nameOf).sort();
  expect(reach).toEqual({
    'redis:redis': ['api', 'scheduler', 'worker'],
    'api:http': everyone,
    'worker:metrics': everyone,
  });
  // and no other port of any pod of the install: every pod is under the default deny
  const deny = policies.find((p) => Object.keys(p.spec.podSelector).length === 0);
  expect(deny?.spec).toEqual({ podSelector: {}, policyTypes: ['Ingress'] });
  // the evaluation can fail: without the Redis policy, a bot reaches Redis
  expect(
    mayConnect(
      policies.filter((p) => p.metadata.name !== 'redis'),
      deployment('bot'),
      redisWorkload(),
      'redis',
    ),
  ).toBe(false); // the default deny still holds
  expect(
    mayConnect(
      policies.filter((p) => p !== deny && p.metadata.name !== 'redis'),
      deployment('bot'),
      redisWorkload(),
      'redis',
    ),
  ).toBe(true);
});

test('the Ingress serves HTTPS only, with the certificate of a Secret the docs make (or cert-manager), for the hosts of its rules', () => {
  const ingress = find<Ingress>('Ingress', 'api');
  const hosts = ingress.spec.rules.map((r: { host: string }) => r.host);
  expect(ingress.spec.tls).toEqual([{ hosts, secretName: 'wizard-tls' }]);
  expect(ingress.metadata.annotations?.['nginx.ingress.kubernetes.io/force-ssl-redirect']).toBe('true');
  const tlsBlock = [...kubernetesDocs().matchAll(/```sh\n([\s\S]*?)```/g)]
    .map((m) => m[1])
    .find((b) => b.includes('create secret tls'));
  expect(tlsBlock).toContain(
    `kubectl -n ${kustomization.namespace} create secret tls ${ingress.spec.tls[0].secretName} --cert=cert.pem --key=key.pem`,
  );
  expect(tlsBlock).toMatch(/kubectl -n wizard annotate ingress api cert-manager\.io\/cluster-issuer=/);
});

/** the section "Kubernetes" of docs/deploy.md */
const kubernetesDocs = () =>
  fs
    .readFileSync(assetPath('docs/deploy.md'), 'utf8')
    .split(/^## Kubernetes$/m)[1]
    ?.split(/^## /m)[0] ?? '';

type Secrets = Record<string, Labels>;

/** run the docs' `kubectl create secret` blocks with a kubectl that records what it was asked; each Secret's keys and values */
function secretsFromDocs(): Secrets {
  const block = [...kubernetesDocs().matchAll(/```sh\n([\s\S]*?)```/g)]
    .map((m) => m[1])
    .find((b) => b.includes('create secret generic wizard-tokens'));
  if (!block)
    throw new Error(
      'docs/deploy.md, "Kubernetes": no ```sh block that runs kubectl create secret generic wizard-tokens',
    );
  const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'wizard-k8s-'));
  const log = path.join(bin, 'calls.ndjson');
  fs.writeFileSync(
    path.join(bin, 'kubectl'),
    `#!${process.execPath}\nrequire('fs').appendFileSync(${JSON.stringify(log)}, JSON.stringify(process.argv.slice(2)) + '\\n');\n`,
    { mode: 0o755 },
  );
  try {
    const r = spawnSync('sh', ['-eu', '-c', block], {
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
      encoding: 'utf8',
      timeout: 10_000,
    });
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
    const calls = fs
      .readFileSync(log, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as string[]);
    const creates = calls.filter((c) => c.includes('secret'));
    for (const c of creates)
      expect(c.slice(0, 5)).toEqual(['-n', kustomization.namespace, 'create', 'secret', 'generic']);
    expect(calls.at(-1)).toEqual(['apply', '-k', 'deploy/k8s']);
    const literals = (c: string[]) =>
      c
        .filter((a) => a.startsWith('--from-literal='))
        .map((a) => a.slice('--from-literal='.length))
        .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]);
    return Object.fromEntries(creates.map((c) => [c[5], Object.fromEntries(literals(c))]));
  } finally {
    fs.rmSync(bin, { recursive: true, force: true });
  }
}

/**
 * A pod's Secret volumes as files in `dir` (one folder per pod): each item where the kubelet would
 * put it; answers mountPath → its folder here
 */
function podFiles(role: string, secrets: Secrets, dir: string): Record<string, string> {
  const w = role === 'redis' ? redisWorkload() : deployment(role);
  const out: Record<string, string> = {};
  for (const m of containerOf(w).volumeMounts ?? []) {
    const v = w.spec.template.spec.volumes?.find((x) => x.name === m.name);
    if (!v?.secret) continue;
    const local = path.join(dir, role, m.name);
    fs.mkdirSync(local, { recursive: true });
    for (const item of v.secret.items ?? [])
      fs.writeFileSync(path.join(local, item.path), secrets[v.secret.secretName]?.[item.key] ?? '', { mode: 0o600 });
    out[m.mountPath] = local;
  }
  return out;
}

/** a container's environment as the kubelet would give it, with the Secrets' values and files, and the pod's name */
function podEnv(
  role: string,
  config: Labels,
  secrets: Secrets,
  files: Record<string, string> = {},
): Record<string, string> {
  const c = containerOf(deployment(role));
  const env: Record<string, string> = { ...config };
  for (const e of c.env ?? []) {
    const from = e.valueFrom;
    if (from?.secretKeyRef) env[e.name] = secrets[from.secretKeyRef.name]?.[from.secretKeyRef.key] ?? '';
    else if (from?.fieldRef?.fieldPath === 'metadata.name')
      env[e.name] = `${role}-pod-${config.PORT}`; // each pod its own name, as Kubernetes gives it (a node id is claimed by one process)
    else if (from?.resourceFieldRef?.resource === 'limits.cpu')
      env[e.name] = String(
        Math.ceil(parseFloat(c.resources!.limits!.cpu) / (c.resources!.limits!.cpu.endsWith('m') ? 1000 : 1)),
      );
    else env[e.name] = e.value ?? '';
  }
  for (const [k, v] of Object.entries(env))
    for (const [mount, local] of Object.entries(files))
      if (v.startsWith(`${mount}/`)) env[k] = local + v.slice(mount.length);
  return env;
}

/** the Redis pod as it runs here: redis-server with the Secret's users.acl (at the path the StatefulSet mounts it) */
async function redisPod(secrets: Secrets, dir: string): Promise<TestRedis> {
  const files = podFiles('redis', secrets, dir);
  const args = (containerOf(redisWorkload()).args ?? [])
    .slice(1)
    .map((a) =>
      Object.entries(files).reduce(
        (x, [mount, local]) => (x.startsWith(`${mount}/`) ? local + x.slice(mount.length) : x),
        a,
      ),
    );
  const i = args.indexOf('--dir');
  args.splice(i, 2); // the helper gives it a temp dir
  return startRedisServer({ extraArgs: args });
}

/** the ConfigMap as it is, but for addresses: the Redis pod as it runs here (its user kept) and free loopback ports */
async function loopbackConfig(name: string, redis: TestRedis): Promise<Labels> {
  const [port, metricsPort] = [await freePort(), await freePort()];
  const url = new URL(String(configMap.data?.REDIS_URL));
  url.host = `127.0.0.1:${redis.port}`;
  return {
    ...configMap.data,
    REDIS_URL: url.toString(),
    WIZARD_PREFIX: testPrefix(name),
    WIZARD_HOST: '127.0.0.1',
    PORT: String(port),
    WIZARD_API_URL: `http://127.0.0.1:${port}`,
    WIZARD_METRICS_PORT: String(metricsPort),
    WIZARD_METRICS_HOST: '127.0.0.1',
  };
}

/** `wizard api` as its pod runs it, serving once /healthz answers */
async function startApi(config: Labels, secrets: Secrets, dir: string): Promise<WizardProc> {
  const api = spawnWizard(
    containerOf(deployment('api')).args!,
    podEnv('api', config, secrets, podFiles('api', secrets, dir)),
  );
  await waitUntil(
    async () => (await http('GET', `${config.WIZARD_API_URL}/healthz`)).status === 200,
    30_000,
    'the api to serve',
  );
  return api;
}

/** a ```yaml block of the docs' Kubernetes section, the first that holds `marker` */
function readmeYaml<T>(marker: string): T {
  const block = [...kubernetesDocs().matchAll(/```yaml\n([\s\S]*?)```/g)]
    .map((m) => m[1])
    .find((b) => b.includes(marker));
  if (!block) throw new Error(`docs/deploy.md, "Kubernetes": no \`\`\`yaml block with ${marker}`);
  const lines = block.split('\n');
  const indent = Math.min(...lines.filter((l) => l.trim()).map((l) => l.length - l.trimStart().length));
  return parse(lines.map((l) => l.slice(indent)).join('\n')) as T;
}

describe("the pods' environment, run on this machine", () => {
  let dir = '';
  let redis: TestRedis | undefined;
  afterAll(async () => {
    await killAll();
    await redis?.destroy();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test("the docs' Secrets, the ConfigMap and each Deployment's env and files start Redis, an api, a bot and a worker that work together, and every exec probe passes", async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wizard-k8s-pods-'));
    const secrets = secretsFromDocs();
    const tokensSecret = secrets['wizard-tokens'];
    const referenced = new Set([...deployments, redisWorkload()].flatMap(secretKeysOf));
    for (const key of referenced)
      expect({ key, documented: key.split('/')[1] in (secrets[key.split('/')[0]] ?? {}) }).toEqual({
        key,
        documented: true,
      });
    const tokens = parseTokenList(tokensSecret.WIZARD_API_TOKENS, 'WIZARD_API_TOKENS');
    expect(tokens.find((t) => t.token === tokensSecret.WIZARD_TOKEN)?.role).toBe('bot');
    expect(tokens.find((t) => t.token === tokensSecret.PROMETHEUS_TOKEN)?.role).toBe('client');
    expect(new Set([tokensSecret.ADMIN_TOKEN, tokensSecret.WIZARD_TOKEN, tokensSecret.PROMETHEUS_TOKEN]).size).toBe(3);
    // the docs' users.acl is what `wizard tokens init` would write for its password
    const { password } = secrets['wizard-redis'];
    expect(secrets['wizard-redis']['users.acl']).toBe(redisAclFile(password).trimEnd());

    // Redis, with the Secret's ACL: nobody gets in without the user's password; its own probe does
    redis = await redisPod(secrets, dir);
    await expect(redisCommand(redis.port, ['PING'])).rejects.toThrow(/NOAUTH/);
    const probe = containerOf(redisWorkload()).livenessProbe!.exec!.command;
    const probed = spawnSync(probe[0], [probe[1], probe[2].replace('valkey-cli', `redis-cli -p ${redis.port}`)], {
      env: { ...process.env, REDISCLI_AUTH: password },
      encoding: 'utf8',
    });
    expect(probed.status).toBe(0);
    expect(
      spawnSync(probe[0], [probe[1], probe[2].replace('valkey-cli', `redis-cli -p ${redis.port}`)], {
        env: { ...process.env, REDISCLI_AUTH: 'wrong' },
      }).status,
    ).toBe(1);

    const config = await loopbackConfig('k8s', redis);
    const base = config.WIZARD_API_URL;
    const asClient = { authorization: `Bearer ${tokensSecret.PROMETHEUS_TOKEN}` };
    const env = (role: string) => podEnv(role, config, secrets, podFiles(role, secrets, dir));
    const api = await startApi(config, secrets, dir);
    // why the readiness probe is /healthz: /health needs a token once API tokens are on
    expect((await http('GET', `${base}/health`)).status).toBe(401);
    expect((await http('GET', `${base}/health`, undefined, asClient)).status).toBe(200);

    spawnWizard(containerOf(deployment('bot')).args!, env('bot'));
    const bots = await waitUntil(
      async () => {
        const r = await http<{ bots: { name: string; status: string }[] }>('GET', `${base}/bots`, undefined, asClient);
        return r.body.bots?.length ? r.body.bots : null;
      },
      30_000,
      "the bot to register with the Secret's bot token",
    );
    expect(bots.map((b) => [b.name, b.status])).toEqual([[`bot-pod-${config.PORT}`, 'up']]);

    for (const role of ['worker', 'scheduler', 'bot']) {
      const cmd = containerOf(deployment(role)).livenessProbe!.exec!.command;
      const r = runWizard(cmd.slice(1), env(role));
      expect({ role, code: r.code, stdout: r.stdout.split(' ')[0], stderr: r.stderr }).toEqual({
        role,
        code: 0,
        stdout: 'healthy:',
        stderr: '',
      });
    }

    // the HPA's metric, read as Prometheus would (with a client token): one task, no worker yet
    const task = await http<{ task_id: string }>('POST', `${base}/task`, { a: 2, b: 3 }, asClient);
    expect(task.status).toBe(202);
    const metrics = await http<string>('GET', `${base}/metrics`, undefined, asClient);
    expect(metrics.body).toMatch(/^wizard_queue_jobs\{queue="default",status="waiting"\} 1$/m);

    spawnWizard(containerOf(deployment('worker')).args!, env('worker'));
    const done = await waitUntil(
      async () => {
        const r = await http<{ status: string; result: number; handled_by: string }>(
          'GET',
          `${base}/tasks/${task.body.task_id}/status`,
          undefined,
          asClient,
        );
        return r.body.status === 'SUCCESS' ? r.body : null;
      },
      30_000,
      'the worker to run the task',
    );
    expect([done.result, done.handled_by]).toEqual([5, `worker-pod-${config.PORT}`]);
    expect(api.output()).not.toMatch(/"level":"error"/);
  }, 240_000);
});

interface ScrapeJob {
  job_name: string;
  kubernetes_sd_configs?: unknown[];
  authorization?: { credentials_file: string };
  relabel_configs?: { source_labels?: string[] }[];
}
interface AdapterRule {
  seriesQuery: string;
  resources: { overrides: { namespace: { resource: string } } };
  metricsQuery: string;
}

describe("the HPA's metric as the docs feed it: Prometheus scrapes the api with the Secret's token, the adapter's query answers", () => {
  let prometheus: ReturnType<typeof spawn> | undefined;
  let tmp = '';
  let redis: TestRedis | undefined;
  afterAll(async () => {
    prometheus?.kill('SIGKILL');
    await killAll();
    await redis?.destroy();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('two api pods, one waiting task: the adapter query gives 1 for queue=default,status=waiting (max: each pod reports the whole cluster)', async () => {
    const which = spawnSync('sh', ['-c', 'command -v prometheus && command -v promtool'], { encoding: 'utf8' });
    if (which.status !== 0)
      throw new Error('prometheus and promtool are not installed: .ci/run installs them (apt-get install prometheus)');
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wizard-k8s-prom-'));
    const secrets = secretsFromDocs();
    const secret = secrets['wizard-tokens'];
    redis = await redisPod(secrets, tmp);
    const config = await loopbackConfig('k8s-prom', redis);
    const second = { ...config, PORT: String(await freePort()) };
    await Promise.all([startApi(config, secrets, tmp), startApi(second, secrets, tmp)]);
    const asClient = { authorization: `Bearer ${secret.PROMETHEUS_TOKEN}` };
    const task = await http('POST', `${config.WIZARD_API_URL}/task`, { a: 1, b: 1 }, asClient);
    expect(task.status).toBe(202);

    // the docs' scrape job, with the api pods as static targets: Debian's Prometheus has no
    // Kubernetes discovery, so the pod relabelling (meta labels only) goes and the namespace is a target label
    const [job] = readmeYaml<ScrapeJob[]>('job_name: wizard-api');
    expect(job.kubernetes_sd_configs).toEqual([{ role: 'pod', namespaces: { names: [kustomization.namespace] } }]);
    expect(job.relabel_configs?.every((r) => r.source_labels?.every((l) => l.startsWith('__meta_kubernetes_')))).toBe(
      true,
    );
    const tokenFile = path.join(tmp, path.basename(job.authorization!.credentials_file));
    fs.writeFileSync(tokenFile, secret[path.basename(job.authorization!.credentials_file)]);
    const promConfig = {
      global: { scrape_interval: '1s' },
      scrape_configs: [
        {
          job_name: job.job_name,
          authorization: { credentials_file: tokenFile },
          static_configs: [
            {
              targets: [config, second].map((c) => `127.0.0.1:${c.PORT}`),
              labels: { namespace: kustomization.namespace },
            },
          ],
        },
      ],
    };
    const configFile = path.join(tmp, 'prometheus.yml');
    fs.writeFileSync(configFile, JSON.stringify(promConfig));
    const check = spawnSync('promtool', ['check', 'config', configFile], { encoding: 'utf8' });
    expect({ status: check.status, stderr: check.stderr }).toEqual({ status: 0, stderr: '' });
    const promPort = await freePort();
    prometheus = spawn(
      'prometheus',
      [
        `--config.file=${configFile}`,
        `--storage.tsdb.path=${path.join(tmp, 'data')}`,
        `--web.listen-address=127.0.0.1:${promPort}`,
      ],
      { stdio: 'ignore' },
    );
    const query = async (q: string) => {
      const r = await http<{ data: { result: { metric: Labels; value: [number, string] }[] } }>(
        'GET',
        `http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent(q)}`,
      );
      return r.body.data.result.map((x) => ({ metric: x.metric, value: x.value[1] }));
    };
    await waitUntil(
      async () => (await query(`sum(up{job="${job.job_name}"})`))[0]?.value === '2',
      30_000,
      'Prometheus to scrape both api pods with the token',
    );

    // the adapter's rule, rendered as it renders it for the HPA's selector in namespace wizard
    const [rule] = readmeYaml<{ rules: { external: AdapterRule[] } }>('external:').rules.external;
    expect(rule.resources.overrides.namespace).toEqual({ resource: 'namespace' });
    const hpa = find<HorizontalPodAutoscaler>('HorizontalPodAutoscaler', 'worker').spec.metrics.find(
      (m) => m.type === 'External',
    )!.external!.metric;
    const series = (await query(rule.seriesQuery)).map((x) => x.metric.__name__);
    expect(new Set(series)).toEqual(new Set([hpa.name]));
    const matchers = Object.entries({ namespace: kustomization.namespace, ...hpa.selector.matchLabels })
      .map(([k, v]) => `${k}="${v}"`)
      .join(',');
    const adapterQuery = rule.metricsQuery.replace('<<.Series>>', hpa.name).replace('<<.LabelMatchers>>', matchers);
    expect(await query(adapterQuery)).toEqual([{ metric: hpa.selector.matchLabels, value: '1' }]);
    // what `sum` would have told the HPA
    expect(await query(adapterQuery.replace(/^max/, 'sum'))).toEqual([
      { metric: hpa.selector.matchLabels, value: '2' },
    ]);
  }, 240_000);
});
