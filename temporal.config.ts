/**
 * fairline's one configuration object, validated by zod.
 *
 * Precedence, per key: an explicit option (a `--config` file or an object passed to loadConfig)
 * > an environment variable (names in common/constants.ts ENV) > the default.
 *
 * Secrets never live here. The resolved config holds file *paths* of TLS material and the *name*
 * of the environment variables that carry S3 keys or a Temporal API key; loadConfig only checks
 * that they are present. The values are read at connection time (common/connections.ts), so the
 * config can be printed, logged or put in a workflow input without leaking anything.
 */
import { existsSync, readFileSync } from 'node:fs';
import { delimiter, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { DEFAULT_NAMESPACE, DEV_PORTS, ENV, TASK_QUEUES } from './common/constants';
import { ConfigInvalid, SecretMissing } from './common/errors';
import { stateDir, trainerVenvPython } from './common/paths';
import { tlsConfigSchema } from './common/tls';

const hostPort = z
  .string()
  .regex(/^[A-Za-z0-9.-]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/, 'must be host:port, e.g. 127.0.0.1:7233');

const storeUri = z
  .string()
  .refine((uri) => /^file:\/\/\/./.test(uri) || /^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/[^\s]*)?$/.test(uri), {
    message: 'must be file:///absolute/path or s3://bucket[/prefix]',
  });

/** How long a stage waits out a store outage unless configured otherwise: a restart, a short incident. */
export const DEFAULT_OUTAGE_WINDOW_MS = 5 * 60_000;

const httpUrl = z.string().refine((u) => /^https?:\/\/[^\s/]+/.test(u), { message: 'must be an http(s) URL' });

export const configSchema = z
  .object({
    temporal: z
      .object({
        address: hostPort,
        namespace: z.string().regex(/^[A-Za-z0-9._-]{2,255}$/, 'letters, digits, . _ - only'),
        /** Where the Temporal Web UI is, for links printed by `run` and `doctor`. */
        uiUrl: httpUrl,
        /** True when no address was configured: fairline starts and uses its embedded dev server. */
        embedded: z.boolean(),
        tls: tlsConfigSchema.optional(),
        /** Name of the env variable holding a Temporal Cloud API key (never the key itself). */
        apiKeyEnv: z.string().optional(),
      })
      .strict(),
    taskQueues: z.object({ cpu: z.string().min(1), gpu: z.string().min(1) }).strict(),
    store: z
      .object({
        uri: storeUri,
        /**
         * How long a stage waits out an unavailable store (retrying with backoff, heartbeating)
         * before the error surfaces (store/outage.ts). 0: fail at once.
         */
        outageWindowMs: z.number().int().nonnegative(),
        /**
         * Checkpoint bundles a train stage keeps once its final model is stored: 0 (absent): none,
         * N: the newest N, `all`: every one (stages/train/implementation.ts pruneCheckpoints).
         */
        keepCheckpoints: z.union([z.number().int().nonnegative(), z.literal('all')]).optional(),
        s3: z
          .object({
            /** Custom endpoint (MinIO, Ceph); absent for AWS S3 itself. */
            endpoint: httpUrl.optional(),
            region: z.string().min(1),
            forcePathStyle: z.boolean(),
            /**
             * `env`: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY must be set; `default-chain`: the AWS SDK's own (IAM
             * roles, profiles).
             */
            credentials: z.enum(['env', 'default-chain']),
          })
          .strict(),
      })
      .strict(),
    trainer: z.object({ python: z.string().min(1) }).strict(),
    /** URL prefix → local prefix, for air-gapped labs: a download of `from…` reads `to…` instead. */
    dataMirrors: z.array(z.object({ from: z.string().min(1), to: z.string().min(1) }).strict()),
    /**
     * Folders whose files stages may read by `file://` URL or path (common/read-roots.ts). Absent:
     * a local stack reads the project, the pipeline's folder and data-mirror folders; a worker of a
     * remote cluster reads none. Configured: exactly these (an empty list: none).
     */
    readRoots: z
      .array(
        z
          .string()
          .min(1)
          .refine((p) => p.startsWith('/'), { message: 'must be an absolute path' }),
      )
      .optional(),
  })
  .strict();
export type FairlineConfig = z.infer<typeof configSchema>;

/** What a caller may set explicitly: any subset of the config, checked with the same strictness. */
export const configOverridesSchema = z
  .object({
    temporal: configSchema.shape.temporal.partial().strict().optional(),
    taskQueues: configSchema.shape.taskQueues.partial().strict().optional(),
    store: z
      .object({
        uri: storeUri.optional(),
        outageWindowMs: configSchema.shape.store.shape.outageWindowMs.optional(),
        keepCheckpoints: configSchema.shape.store.shape.keepCheckpoints,
        s3: configSchema.shape.store.shape.s3.partial().strict().optional(),
      })
      .strict()
      .optional(),
    trainer: configSchema.shape.trainer.partial().strict().optional(),
    dataMirrors: configSchema.shape.dataMirrors.optional(),
    readRoots: configSchema.shape.readRoots,
  })
  .strict();
export type ConfigOverrides = z.infer<typeof configOverridesSchema>;

function issuesOf(error: z.ZodError, prefix = ''): { path: string; message: string }[] {
  return error.issues.flatMap((issue) => {
    const base = [prefix, ...issue.path.map(String)].filter(Boolean).join('.');
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({ path: base ? `${base}.${key}` : key, message: 'unknown key' }));
    }
    return [{ path: base || '(root)', message: issue.message }];
  });
}

function parseMirrors(raw: string): unknown {
  try {
    const parsed: unknown = JSON.parse(raw);
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) {
      return Object.entries(parsed).map(([from, to]) => ({ from, to }));
    }
    return parsed;
  } catch {
    throw new ConfigInvalid([
      {
        path: `dataMirrors (${ENV.dataMirrors})`,
        message: 'must be JSON: {"https://host/prefix/": "file:///local/prefix/"}',
      },
    ]);
  }
}

function parseBool(name: string, raw: string): boolean {
  if (/^(1|true|yes)$/i.test(raw)) return true;
  if (/^(0|false|no)$/i.test(raw)) return false;
  throw new ConfigInvalid([{ path: name, message: `must be true or false, got ${JSON.stringify(raw)}` }]);
}

/**
 * Resolves and validates the configuration. Throws ConfigInvalid (listing every bad key path) or
 * SecretMissing (naming the key path and the variable to set).
 */
export function loadConfig(overrides: unknown = {}, env: NodeJS.ProcessEnv = process.env): FairlineConfig {
  const parsedOverrides = configOverridesSchema.safeParse(overrides);
  if (!parsedOverrides.success) throw new ConfigInvalid(issuesOf(parsedOverrides.error));
  const o = parsedOverrides.data;

  const address = o.temporal?.address ?? env[ENV.temporalAddress];
  const embeddedRaw = env[ENV.temporalEmbedded];
  // Embedded unless an address is configured; a dev stack on other ports says so explicitly.
  const embedded =
    o.temporal?.embedded ??
    (embeddedRaw !== undefined
      ? parseBool(`temporal.embedded (${ENV.temporalEmbedded})`, embeddedRaw)
      : address === undefined);
  const tlsCert = o.temporal?.tls?.certFile ?? env[ENV.temporalTlsCert];
  const tlsKey = o.temporal?.tls?.keyFile ?? env[ENV.temporalTlsKey];
  const tlsCa = o.temporal?.tls?.caFile ?? env[ENV.temporalTlsCa];
  const tlsServerName = o.temporal?.tls?.serverName ?? env[ENV.temporalTlsServerName];
  const tls =
    tlsCert !== undefined || tlsKey !== undefined || tlsCa !== undefined
      ? {
          certFile: tlsCert ?? '',
          keyFile: tlsKey ?? '',
          ...(tlsCa ? { caFile: tlsCa } : {}),
          ...(tlsServerName ? { serverName: tlsServerName } : {}),
        }
      : undefined;
  const apiKeyEnv = o.temporal?.apiKeyEnv ?? (env[ENV.temporalApiKey] !== undefined ? ENV.temporalApiKey : undefined);

  const forcePathStyleRaw = env[ENV.s3ForcePathStyle];
  const candidate = {
    temporal: {
      address: address ?? `127.0.0.1:${DEV_PORTS.temporal}`,
      namespace: o.temporal?.namespace ?? env[ENV.temporalNamespace] ?? DEFAULT_NAMESPACE,
      uiUrl: o.temporal?.uiUrl ?? env[ENV.temporalUiUrl] ?? `http://127.0.0.1:${DEV_PORTS.temporalUi}`,
      embedded,
      ...(tls ? { tls } : {}),
      ...(apiKeyEnv ? { apiKeyEnv } : {}),
    },
    taskQueues: { cpu: o.taskQueues?.cpu ?? TASK_QUEUES.cpu, gpu: o.taskQueues?.gpu ?? TASK_QUEUES.gpu },
    store: {
      uri: o.store?.uri ?? env[ENV.storeUri] ?? pathToFileURL(resolve(stateDir(env), 'artifacts')).href,
      outageWindowMs:
        o.store?.outageWindowMs ??
        (env[ENV.storeOutageWindowMs] !== undefined ? Number(env[ENV.storeOutageWindowMs]) : DEFAULT_OUTAGE_WINDOW_MS),
      ...((o.store?.keepCheckpoints ?? env[ENV.storeKeepCheckpoints]) !== undefined
        ? {
            keepCheckpoints:
              o.store?.keepCheckpoints ??
              (env[ENV.storeKeepCheckpoints] === 'all' ? 'all' : Number(env[ENV.storeKeepCheckpoints])),
          }
        : {}),
      s3: {
        ...((o.store?.s3?.endpoint ?? env[ENV.s3Endpoint])
          ? { endpoint: o.store?.s3?.endpoint ?? env[ENV.s3Endpoint] }
          : {}),
        region: o.store?.s3?.region ?? env[ENV.s3Region] ?? env.AWS_REGION ?? 'us-east-1',
        forcePathStyle:
          o.store?.s3?.forcePathStyle ??
          (forcePathStyleRaw !== undefined
            ? parseBool(`store.s3.forcePathStyle (${ENV.s3ForcePathStyle})`, forcePathStyleRaw)
            : true),
        credentials: o.store?.s3?.credentials ?? 'env',
      },
    },
    trainer: { python: o.trainer?.python ?? env[ENV.trainerPython] ?? trainerVenvPython(env) },
    dataMirrors: o.dataMirrors ?? (env[ENV.dataMirrors] ? parseMirrors(env[ENV.dataMirrors]!) : []),
    // `:`-separated, as PATH; set but empty means no root at all.
    ...((o.readRoots ?? env[ENV.readRoots]) !== undefined
      ? { readRoots: o.readRoots ?? env[ENV.readRoots]!.split(delimiter).filter((p) => p !== '') }
      : {}),
  };

  const parsed = configSchema.safeParse(candidate);
  if (!parsed.success) throw new ConfigInvalid(issuesOf(parsed.error));
  const config = parsed.data;

  // Files and secrets: present now, read later.
  const problems: { path: string; message: string }[] = [];
  if (config.temporal.embedded && !/^(127\.0\.0\.1|localhost):\d+$/.test(config.temporal.address)) {
    problems.push({
      path: 'temporal.address',
      message: 'the embedded dev server listens on 127.0.0.1 only; set temporal.embedded to false for a remote server',
    });
  }
  if (config.temporal.tls) {
    for (const key of ['certFile', 'keyFile', 'caFile'] as const) {
      const file = config.temporal.tls[key];
      if (file === undefined) continue;
      if (file === '') problems.push({ path: `temporal.tls.${key}`, message: 'required when TLS is configured' });
      else if (!existsSync(file)) problems.push({ path: `temporal.tls.${key}`, message: `file not found: ${file}` });
    }
  }
  if (problems.length > 0) throw new ConfigInvalid(problems);
  if (config.temporal.apiKeyEnv && !env[config.temporal.apiKeyEnv]) {
    throw new SecretMissing('temporal.apiKeyEnv', config.temporal.apiKeyEnv);
  }
  if (config.store.uri.startsWith('s3://') && config.store.s3.credentials === 'env') {
    if (!env[ENV.s3AccessKeyId]) throw new SecretMissing('store.s3.accessKeyId', ENV.s3AccessKeyId);
    if (!env[ENV.s3SecretAccessKey]) throw new SecretMissing('store.s3.secretAccessKey', ENV.s3SecretAccessKey);
  }
  return config;
}

/** Reads a `--config` file (JSON or YAML) as explicit overrides; errors name the file. */
export function readConfigFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigInvalid([{ path: file, message: `cannot read config file: ${(error as Error).message}` }]);
  }
  try {
    return file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw new ConfigInvalid([
      { path: file, message: `not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}: ${(error as Error).message}` },
    ]);
  }
}

export default loadConfig;
