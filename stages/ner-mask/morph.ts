/**
 * The `morph` span source: the Korean morphological analyzer (kiwipiepy) running as
 * `python -m trainer.morph` in the trainer's venv, one process per stage attempt, fed rows as
 * JSON lines on stdin and answering one JSON line of spans per row (see trainer/morph.py).
 *
 * The process is spawned with an argv array (no shell), from the project root. It is stopped on
 * every way out: closed after the last row, and on cancellation or error sent SIGTERM, then
 * SIGKILL if it has not exited within KILL_GRACE_MS; `close()` and `kill()` resolve only once it
 * has exited, so the activity never finishes while its analyzer lives. On Linux the analyzer also
 * asks the kernel to SIGTERM it should this worker die first.
 */
import { childEnv } from '../../common/child-env';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { z } from 'zod';
import { AnalyzerFailed } from './errors';
import { PROJECT_ROOT } from '../../common/paths';
import type { Span } from './spans';

export const KILL_GRACE_MS = 2_000;
/** trainer/morph.py's exit status when kiwipiepy cannot be loaded: a broken env, not worth a retry. */
const EXIT_NO_ANALYZER = 3;
const EXIT_BAD_INPUT = 2;

const answerSchema = z
  .object({ spans: z.array(z.tuple([z.number().int().nonnegative(), z.number().int().positive(), z.string().min(1)])) })
  .strict();

interface Waiter {
  expected: number;
  spans: Span[][];
  resolve: (spans: Span[][]) => void;
  reject: (error: unknown) => void;
}

export class MorphAnalyzer {
  private readonly waiters: Waiter[] = [];
  private stderr = '';
  private exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private readonly exit: Promise<void>;
  private failure: unknown;

  private constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    private readonly python: string,
  ) {
    this.exit = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exited = { code, signal };
        this.fail(this.exitError());
        resolve();
      });
      child.on('error', (error) => {
        // Spawning failed (no such python): there is no process, and nothing will ever answer.
        if (child.pid !== undefined) return;
        this.exited ??= { code: null, signal: null };
        this.fail(new AnalyzerFailed('the morphological analyzer', `cannot start ${python}: ${error.message}`, false));
        resolve();
      });
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      this.stderr = (this.stderr + chunk).slice(-4_000);
    });
    child.stdin.on('error', () => {
      // EPIPE when the process died: its exit reports why.
    });
    let buffered = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      buffered += chunk;
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        if (line.trim() !== '') this.answer(line);
      }
    });
  }

  /** Starts `python -m trainer.morph --tags …`. */
  static start(python: string, tags: readonly string[]): MorphAnalyzer {
    const child = spawn(python, ['-m', 'trainer.morph', '--tags', tags.join(',')], {
      cwd: PROJECT_ROOT,
      env: childEnv('analyzer', { PYTHONIOENCODING: 'utf-8', PYTHONUNBUFFERED: '1' }),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    return new MorphAnalyzer(child, python);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Spans of each text, in order. Rejects with AnalyzerFailed if the process dies first. */
  async analyze(texts: readonly string[]): Promise<Span[][]> {
    if (this.failure !== undefined) throw this.failure;
    if (texts.length === 0) return [];
    const answered = new Promise<Span[][]>((resolve, reject) =>
      this.waiters.push({ expected: texts.length, spans: [], resolve, reject }),
    );
    // Awaited below; until then a rejection (the process died mid-write) must not count as unhandled.
    answered.catch(() => undefined);
    const payload = texts.map((text) => JSON.stringify({ text })).join('\n') + '\n';
    if (!this.child.stdin.write(payload)) {
      await Promise.race([once(this.child.stdin, 'drain'), this.exit]);
    }
    return answered;
  }

  /** Ends the input and waits for a clean exit; kills the process if it does not come. */
  async close(): Promise<void> {
    if (this.exited) return;
    this.child.stdin.end();
    const timer = setTimeout(() => void this.kill(), 10_000);
    try {
      await this.exit;
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGTERM, then SIGKILL after KILL_GRACE_MS; resolves once the process has exited. */
  async kill(): Promise<void> {
    if (this.exited) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => {
      if (!this.exited) this.child.kill('SIGKILL');
    }, KILL_GRACE_MS);
    try {
      await this.exit;
    } finally {
      clearTimeout(timer);
    }
  }

  private answer(line: string): void {
    const waiter = this.waiters[0];
    let parsed: z.infer<typeof answerSchema>;
    try {
      const checked = answerSchema.safeParse(JSON.parse(line));
      if (!checked.success) throw new Error(checked.error.issues[0]?.message ?? 'unexpected shape');
      parsed = checked.data;
    } catch (error) {
      this.fail(
        new AnalyzerFailed(
          'the morphological analyzer',
          `unreadable answer ${JSON.stringify(line.slice(0, 200))}: ${String(error)}`,
          false,
        ),
      );
      void this.kill();
      return;
    }
    if (!waiter) {
      this.fail(new AnalyzerFailed('the morphological analyzer', 'answered a row it was not sent', false));
      void this.kill();
      return;
    }
    waiter.spans.push(parsed.spans.map(([start, end, type]) => ({ start, end, type })));
    if (waiter.spans.length === waiter.expected) {
      this.waiters.shift();
      waiter.resolve(waiter.spans);
    }
  }

  private fail(error: unknown): void {
    this.failure ??= error;
    for (const waiter of this.waiters.splice(0)) waiter.reject(this.failure);
  }

  private exitError(): AnalyzerFailed {
    const how = this.exited?.signal ? `was killed by ${this.exited.signal}` : `exited with status ${this.exited?.code}`;
    const detail = `python -m trainer.morph (${this.python}) ${how}${this.stderr.trim() ? `: ${this.stderr.trim()}` : ''}`;
    const code = this.exited?.code;
    // A clean exit with rows still unanswered, a missing analyzer or refused input will not pass on a retry.
    return new AnalyzerFailed(
      'the morphological analyzer',
      detail,
      !(code === EXIT_NO_ANALYZER || code === EXIT_BAD_INPUT || code === 0),
    );
  }
}
