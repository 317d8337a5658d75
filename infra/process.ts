/** Stopping the child processes fairline starts (dev server, MinIO, the cluster) the same way everywhere. */
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';

/** Stops a child process: SIGTERM, then SIGKILL after `graceMs`. Resolves once it has exited. */
export async function stopProcess(child: ChildProcess, graceMs = 10_000): Promise<void> {
  // No pid: spawning failed, and no 'exit' will come.
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/**
 * Sends `signal` and waits for the exit; SIGKILL after `graceMs`. Unlike stopProcess, the first
 * signal is the caller's choice (PostgreSQL's fast shutdown is SIGINT; SIGTERM waits for clients).
 */
export async function exitedOrKilled(child: ChildProcess, signal: NodeJS.Signals, graceMs: number): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

const guarded = new Set<ChildProcess>();
let exitHookInstalled = false;

/**
 * Kills the child with SIGKILL if this process exits without having stopped it. Signals that
 * end this process without an 'exit' event are covered by parentDeathSignal (below) instead.
 */
export function guardChild<T extends ChildProcess>(child: T): T {
  guarded.add(child);
  child.once('exit', () => guarded.delete(child));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const c of guarded) c.kill('SIGKILL');
    });
  }
  return child;
}

const SETPRIV = '/usr/bin/setpriv';

/**
 * `[command, args]` that run `command` with SIGKILL as its parent-death signal (Linux
 * PR_SET_PDEATHSIG, through util-linux `setpriv`, which then execs the command: the pid is the
 * command's own). A harness killed with SIGKILL, which runs no handler, still takes its servers
 * and workers with it. Where setpriv is missing the command runs as it is.
 */
export function parentDeathSignal(command: string, args: string[]): [string, string[]] {
  if (process.platform !== 'linux' || !existsSync(SETPRIV)) return [command, args];
  return [SETPRIV, ['--pdeathsig', 'SIGKILL', '--', command, ...args]];
}

/**
 * Under root: the `nobody` user and a wrapper that runs a command as it (PostgreSQL refuses to
 * run as root), with the parent-death signal set. Otherwise undefined: run as we are.
 */
export function unprivileged():
  { uid: number; gid: number; wrap(command: string, args: string[]): [string, string[]] } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  if (!existsSync(SETPRIV))
    throw new Error(
      `running as root, and ${SETPRIV} (util-linux) is missing: cannot drop to an unprivileged user for PostgreSQL`,
    );
  const uid = 65534;
  const gid = 65534;
  return {
    uid,
    gid,
    wrap: (command, args) => [
      SETPRIV,
      [
        '--reuid',
        String(uid),
        '--regid',
        String(gid),
        '--clear-groups',
        '--pdeathsig',
        'SIGKILL',
        '--',
        command,
        ...args,
      ],
    ],
  };
}
