/**
 * Where fairline keeps things on the local machine. Caches live outside the repository (a fresh
 * clone must find the Temporal binary, MinIO and the trainer venv an earlier run built), keyed by
 * the pinned versions so that a changed pin builds anew and nothing else does.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ENV, PINS } from './constants';

/** The repository root (this file sits in `<root>/common/`). */
export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** `$FAIRLINE_CACHE_DIR`, else `$XDG_CACHE_HOME/fairline`, else `~/.cache/fairline`. */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env[ENV.cacheDir];
  if (explicit) return resolve(explicit);
  const xdg = env.XDG_CACHE_HOME;
  return join(xdg ? resolve(xdg) : join(homedir(), '.cache'), 'fairline');
}

/** Mutable local state (dev-server database, default artifact store): `.fairline/` in the project. */
export function stateDir(env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env[ENV.stateDir];
  return explicit ? resolve(explicit) : join(PROJECT_ROOT, '.fairline');
}

export const TRAINER_REQUIREMENTS = join(PROJECT_ROOT, 'trainer', 'requirements.txt');

/** Short digest of the trainer's pinned requirements: the venv's cache key. */
export function requirementsDigest(file: string = TRAINER_REQUIREMENTS): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex').slice(0, 16);
}

/** The Temporal CLI fairline runs: `$FAIRLINE_TEMPORAL_CLI` when set, else the bootstrapped one. */
export function temporalBinaryPath(env: NodeJS.ProcessEnv = process.env): string {
  return env[ENV.temporalCli] || cachedTemporalBinaryPath(env);
}

/** Where bootstrap builds the Temporal CLI. */
export function cachedTemporalBinaryPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(cacheDir(env), 'temporal', PINS.temporalCli, 'temporal');
}

export function minioBinaryPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(cacheDir(env), 'minio', PINS.minio, 'minio');
}

/**
 * Folder of the Temporal server build: `temporal-server` (the server) and `temporal-sql-tool`, plus the PostgreSQL
 * schema.
 */
export function temporalServerDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(cacheDir(env), 'temporal-server', PINS.temporalServer);
}

export function helmBinaryPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(cacheDir(env), 'helm', PINS.helm, 'helm');
}

export function trainerVenvDir(env: NodeJS.ProcessEnv = process.env): string {
  return venvDirFor(TRAINER_REQUIREMENTS, env);
}

/** The cached venv built from one requirements file: keyed by that file's digest. */
export function venvDirFor(requirements: string, env: NodeJS.ProcessEnv = process.env): string {
  return join(cacheDir(env), 'venv', requirementsDigest(requirements));
}

export function trainerVenvPython(env: NodeJS.ProcessEnv = process.env): string {
  return join(trainerVenvDir(env), 'bin', 'python');
}
