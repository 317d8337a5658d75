import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/**
 * Every name that more than one part of fairline must agree on lives here: task queues,
 * search-attribute keys, environment variable names, workflow-id builders and cache paths.
 * Workflow code imports this file, so it must stay free of Node built-ins.
 */

/** Task queues. `cpu` runs the TypeScript stages, `gpu` the trainer. */
export const TASK_QUEUES = { cpu: 'cpu', gpu: 'gpu' } as const;
export type TaskQueue = (typeof TASK_QUEUES)[keyof typeof TASK_QUEUES];
export const ALL_TASK_QUEUES: readonly TaskQueue[] = [TASK_QUEUES.cpu, TASK_QUEUES.gpu];

/** The Temporal namespace fairline uses unless configured otherwise. */
export const DEFAULT_NAMESPACE = 'fairline';

/** Typed keys of the search attributes, for workflows (upserts) and clients (queries, reads). */
export const SA = {
  pipeline: defineSearchAttributeKey('FairlinePipeline', SearchAttributeType.KEYWORD),
  status: defineSearchAttributeKey('FairlineStatus', SearchAttributeType.KEYWORD),
  stage: defineSearchAttributeKey('FairlineStage', SearchAttributeType.KEYWORD),
  datasetDigest: defineSearchAttributeKey('FairlineDatasetDigest', SearchAttributeType.KEYWORD),
  modelDigest: defineSearchAttributeKey('FairlineModelDigest', SearchAttributeType.KEYWORD),
  trigger: defineSearchAttributeKey('FairlineTrigger', SearchAttributeType.KEYWORD),
  macroF1: defineSearchAttributeKey('FairlineMacroF1', SearchAttributeType.DOUBLE),
  microF1: defineSearchAttributeKey('FairlineMicroF1', SearchAttributeType.DOUBLE),
  reactivity: defineSearchAttributeKey('FairlineReactivity', SearchAttributeType.DOUBLE),
  gatePassed: defineSearchAttributeKey('FairlineGatePassed', SearchAttributeType.BOOL),
  // SQL visibility (the dev server's SQLite, PostgreSQL, MySQL) has 3 Double columns per namespace
  // and the three above take them (a fourth stops the dev server), so the workloads' headline
  // numbers are Ints in basis points: the value ×10,000, rounded (KLUE's 66.44 → 6644, ρ 0.7756 → 7756).
  // Two-class F1 of class 1 (evaluate), KLUE-RE's micro F1 (klue-re-submission), STS Spearman
  // (evaluate-embedding): the 3 Int columns SQL visibility has, all taken.
  positiveF1Bp: defineSearchAttributeKey('FairlinePositiveF1Bp', SearchAttributeType.INT),
  klueReMicroF1Bp: defineSearchAttributeKey('FairlineKlueReMicroF1Bp', SearchAttributeType.INT),
  stsSpearmanBp: defineSearchAttributeKey('FairlineStsSpearmanBp', SearchAttributeType.INT),
} as const;

/** A search attribute's name, e.g. `FairlineMacroF1`. */
export type SearchAttributeName = (typeof SA)[keyof typeof SA]['name'];

const CLI_TYPE_NAMES = { KEYWORD: 'Keyword', DOUBLE: 'Double', BOOL: 'Bool', INT: 'Int' } as const;

/**
 * The same attributes as `name → type` in the Temporal CLI's spelling, for registering them
 * (`--search-attribute`, the operator API) and for the doctor's check.
 */
export const SEARCH_ATTRIBUTES: Readonly<Record<string, 'Keyword' | 'Double' | 'Bool' | 'Int'>> = Object.fromEntries(
  Object.values(SA).map((key) => [key.name, CLI_TYPE_NAMES[key.type]]),
);

/** Environment variables fairline reads. Config precedence: explicit option > these > defaults. */
export const ENV = {
  temporalAddress: 'FAIRLINE_TEMPORAL_ADDRESS',
  /** `true`: fairline starts the dev server itself at the configured (loopback) address. */
  temporalEmbedded: 'FAIRLINE_TEMPORAL_EMBEDDED',
  temporalNamespace: 'FAIRLINE_TEMPORAL_NAMESPACE',
  temporalUiUrl: 'FAIRLINE_TEMPORAL_UI_URL',
  temporalTlsCert: 'FAIRLINE_TEMPORAL_TLS_CERT',
  temporalTlsKey: 'FAIRLINE_TEMPORAL_TLS_KEY',
  temporalTlsCa: 'FAIRLINE_TEMPORAL_TLS_CA',
  temporalTlsServerName: 'FAIRLINE_TEMPORAL_TLS_SERVER_NAME',
  temporalApiKey: 'FAIRLINE_TEMPORAL_API_KEY',
  storeUri: 'FAIRLINE_STORE',
  /** Milliseconds a stage waits out an unavailable store before failing (store/outage.ts). */
  storeOutageWindowMs: 'FAIRLINE_STORE_OUTAGE_WINDOW_MS',
  /** Checkpoint bundles a finished train stage keeps: a number or `all` (store.keepCheckpoints). */
  storeKeepCheckpoints: 'FAIRLINE_STORE_KEEP_CHECKPOINTS',
  s3Endpoint: 'FAIRLINE_S3_ENDPOINT',
  s3Region: 'FAIRLINE_S3_REGION',
  s3ForcePathStyle: 'FAIRLINE_S3_FORCE_PATH_STYLE',
  /** S3 credentials: read from the environment only, never from YAML or workflow inputs. */
  s3AccessKeyId: 'AWS_ACCESS_KEY_ID',
  s3SecretAccessKey: 'AWS_SECRET_ACCESS_KEY',
  trainerPython: 'FAIRLINE_TRAINER_PYTHON',
  dataMirrors: 'FAIRLINE_DATA_MIRRORS',
  /** Folders stages may read local files under, `:`-separated (common/read-roots.ts). */
  readRoots: 'FAIRLINE_READ_ROOTS',
  cacheDir: 'FAIRLINE_CACHE_DIR',
  /** A Temporal CLI binary to use instead of building one (bootstrap verifies it runs). */
  temporalCli: 'FAIRLINE_TEMPORAL_CLI',
  stateDir: 'FAIRLINE_STATE_DIR',
  /** The Chromium binary the browser tests drive (test/browser.ts); default CHROMIUM.defaultPath. */
  chromium: 'FAIRLINE_CHROMIUM',
} as const;

/**
 * The browser of the browser tests: Debian's `chromium` package (installed by infra/bootstrap.ts),
 * driven by playwright-core, which downloads no browser of its own. fonts-nanum gives it Korean
 * glyphs, so screenshots of Korean text show letters instead of empty boxes.
 */
export const CHROMIUM = { defaultPath: '/usr/bin/chromium', aptPackages: ['chromium', 'fonts-nanum'] } as const;

/** Pinned versions of the real services fairline installs (infra/bootstrap.ts). */
export const PINS = {
  temporalCli: 'v1.5.1',
  temporalCliModule: 'github.com/temporalio/cli/cmd/temporal',
  minio: 'v0.0.0-20260212201848-7aac2a2c5b7c',
  minioModule: 'github.com/minio/minio',
  /**
   * The real Temporal server (the 1.29 line the CLI embeds) and its SQL schema tool, for the PostgreSQL cluster
   * (infra/cluster.ts).
   */
  temporalServer: 'v1.29.1',
  temporalServerModule: 'go.temporal.io/server',
  /** Helm, to lint and render deploy/helm/fairline in the tests (no Kubernetes needed for that). */
  helm: 'v4.3.2',
  helmModule: 'helm.sh/helm/v4',
} as const;

/**
 * Largest workflow input or stage result fairline lets through. Temporal refuses payloads over
 * 2 MB; everything bigger than small scalars and ArtifactRefs belongs in the artifact store.
 */
export const MAX_PAYLOAD_BYTES = 256 * 1024;

/** How many runs `fairline runs` lists unless `--limit` says otherwise. */
export const RUNS_DEFAULT_LIMIT = 20;

/**
 * gRPC status codes fairline tells apart in Temporal's answers (google.rpc.Code; the SDK does
 * not re-export grpc-js's enum). INVALID_ARGUMENT: e.g. a list filter the server cannot parse.
 */
export const GRPC_STATUS = { invalidArgument: 3 } as const;

/** Ports of the embedded dev stack (`fairline dev`, `npm run demo`). */
export const DEV_PORTS = { temporal: 7233, temporalUi: 8233, minio: 9000 } as const;

/** What a run id given with `--id` may contain: it names artifact keys and workflow ids. */
export const RUN_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Workflow ids are built here and nowhere else, so every part names a run the same way. */
export const workflowIds = {
  pipelineRun: (pipeline: string, runId: string): string => `pipeline/${pipeline}/${runId}`,
  schedule: (pipeline: string): string => `schedule/${pipeline}`,
  /** Prefix of scheduled runs' ids; Temporal appends `-<scheduled time>` to each. */
  scheduledRun: (pipeline: string): string => `pipeline/${pipeline}/scheduled`,
  /**
   * The run id inside a pipelineRun workflow id (the part after `pipeline/<name>/`), made safe
   * as an artifact-key segment: scheduled ids end in an ISO time, whose `:` becomes `-`.
   */
  runIdOf: (workflowId: string): string =>
    workflowId
      .split('/')
      .slice(2)
      .join('-')
      .replace(/[^A-Za-z0-9._-]/g, '-'),
};
