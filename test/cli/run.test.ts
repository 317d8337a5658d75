import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { PROJECT_ROOT } from '../../common/paths';
import { reportSchema } from '../../report/schema';
import { stopProcess } from '../../infra/temporal';
import { startHttpSource, type HttpSource } from '../http-source';
import { EXIT_RUN_ID_TAKEN } from '../../cli/run';
import { cleanEnv, fairline, startWorkerProcess, suiteTemporal, tempDir } from '../helpers';

/** The demo trains three models; on a shared 2-core machine under load a cold run takes minutes. */
const DEMO_TIMEOUT_MS = 600_000;

describe('fairline run and the commands around it', () => {
  let env: NodeJS.ProcessEnv;
  let worker: ChildProcess;
  let http: HttpSource;
  let dir: string;
  /** The demo's train split, as the first run stored it. */
  let trainUri = '';

  before(async () => {
    dir = await tempDir();
    http = await startHttpSource();
    const { address, uiUrl } = suiteTemporal();
    env = cleanEnv({
      FAIRLINE_TEMPORAL_ADDRESS: address,
      FAIRLINE_TEMPORAL_UI_URL: uiUrl,
      FAIRLINE_STORE: pathToFileURL(join(dir, 'store')).href,
    });
    worker = await startWorkerProcess(env);
  });
  after(async () => {
    if (worker) await stopProcess(worker);
    await http?.close();
  });

  test('runs the demo pipeline, prints its UI link and a summary table, and exits 0', async () => {
    const { code, stdout, stderr } = await fairline(
      ['run', 'pipelines/demo.yaml', '--id', 'cli-first'],
      env,
      DEMO_TIMEOUT_MS,
    );
    assert.equal(code, 0, stderr);
    assert.match(
      stderr,
      /watch it: http:\/\/127\.0\.0\.1:\d+\/namespaces\/fairline\/workflows\/pipeline%2Fdemo%2Fcli-first/,
    );
    assert.match(stdout, /stage\s+status\s+cached\s+attempts\s+duration\s+outputs/);
    const train =
      /data\s+succeeded\s+no\s+1\s+[\d.]+ s\s+train=(file:\/\/\S+\/objects\/[0-9a-f]{64}\/train\.jsonl) \(\d+ B\)/.exec(
        stdout,
      );
    assert.ok(train, stdout);
    trainUri = train[1]!;
    // The lexicon masks 3 of the 5 gender pairs: the rows naming the other two keep their terms.
    assert.match(
      stdout,
      /mask\s+succeeded\s+no\s+1\s+[\d.]+ s\s+dataset=file:\/\/.*\/masked\.jsonl .*shareMasked=0\.6\b/,
    );
    assert.match(stdout, /manifest: file:\/\/.*\/runs\/demo\/cli-first\/.*\/manifest\.json/);
  });

  test('a second run is served from the cache', async () => {
    const { code, stdout } = await fairline(['run', 'pipelines/demo.yaml', '--id', 'cli-second'], env, DEMO_TIMEOUT_MS);
    assert.equal(code, 0);
    assert.match(stdout, /data\s+cached\s+yes/);
    assert.match(stdout, /mask\s+cached\s+yes/);
    assert.match(stdout, /debiased\s+cached\s+yes/);
  });

  test('runs lists both runs of the pipeline', async () => {
    const { code, stdout } = await fairline(['runs', '--pipeline', 'demo', '--json'], env);
    assert.equal(code, 0);
    const rows: { run: string; status: string }[] = JSON.parse(stdout);
    assert.deepEqual(rows.map((r) => [r.run, r.status]).sort(), [
      ['cli-first', 'completed'],
      ['cli-second', 'completed'],
    ]);
  });

  test('report prints where the run’s report is and its headline, and writes a local copy', async () => {
    const out = join(dir, 'report-copy');
    const { code, stdout, stderr } = await fairline(
      ['report', 'cli-first', '--pipeline', 'demo', '--out', `${out}/`],
      env,
    );
    assert.equal(code, 0, stderr);
    assert.match(stdout, /report\.html: \/.*\/report\.html/);
    const report = reportSchema.parse(JSON.parse(await readFile(join(out, 'report.json'), 'utf8')));
    assert.equal(report.provenance.run_id, 'cli-first');
    assert.deepEqual(
      report.evaluation?.models.map((m) => m.name),
      ['baseline', 'debiased', 'debiased-hn'],
    );
    assert.deepEqual(
      report.audits.map((a) => a.name),
      ['baseline', 'debiased', 'debiased-hn'],
    );
    // Like for like: baseline and debiased differ only in the method; the ablation adds the hard negatives.
    const differing = (report.evaluation?.config_differences ?? [])
      .filter((d) => JSON.stringify(d.values.baseline) !== JSON.stringify(d.values.debiased))
      .map((d) => d.key);
    assert.deepEqual(differing, ['effectiveLoss.formula', 'mode']);
    const gate = report.audits.find((a) => a.name === 'debiased')!.gate;
    assert.equal(gate.f1_drop?.reference, 'baseline');
    assert.ok(report.hard_negatives && report.hard_negatives.mined > 0);
    assert.match(stdout, new RegExp(`macro F1 ${report.headline.macro_f1!.toFixed(4)} .* gate passed`));
    const html = await readFile(join(out, 'report.html'), 'utf8');
    assert.ok(html.includes('cli-first'));
  });

  test('a failed bias gate fails the run as BiasGateFailed and still writes the report', async () => {
    const { code, stdout, stderr } = await fairline(
      ['run', 'pipelines/demo.yaml', '--id', 'cli-gate', '--set', 'params.maxReactivity=0.000001'],
      env,
      DEMO_TIMEOUT_MS,
    );
    assert.equal(code, 1, stdout);
    assert.match(stderr, /run failed: stage "audit" failed: .*debiased.*exceeds/);
    assert.match(stdout, /audit\s+failed/);
    assert.match(stdout, /report\s+succeeded/);
    assert.match(stdout, /^report: file:\/\/.*\/report\.html$/m);
    const runs = await fairline(['runs', '--pipeline', 'demo', '--where', 'FairlineGatePassed = false', '--json'], env);
    assert.deepEqual(
      JSON.parse(runs.stdout).map((r: { run: string }) => r.run),
      ['cli-gate'],
    );
    const compared = await fairline(['compare', 'demo/cli-first', 'demo/cli-gate', '--json'], env);
    assert.equal(compared.code, 0, compared.stderr);
    assert.match(compared.stdout, /maxReactivity/, 'the params diff names the changed threshold');
  });

  test('lineage names the run and stage that produced an artifact', async () => {
    const { code, stdout } = await fairline(['lineage', trainUri], env);
    assert.equal(code, 0, stdout);
    assert.match(stdout, /pipeline demo, run cli-first, stage data \(dataset\) output train/);
    assert.doesNotMatch(stdout, /cli-second/, 'the cached run produced nothing');
  });

  test('cache ls shows the entries and cache rm --all clears them', async () => {
    const listed = await fairline(['cache', 'ls', '--json'], env);
    // The report is never cached, nor is an audit whose gate failed (a failed stage records nothing).
    assert.deepEqual(
      JSON.parse(listed.stdout)
        .map((r: { stage: string }) => r.stage)
        .sort(),
      ['audit', 'baseline', 'data', 'debiased', 'debiased-hn', 'evaluate', 'mask', 'mine'],
    );
    const removed = await fairline(['cache', 'rm', '--all'], env);
    assert.equal(removed.code, 0);
    assert.match(removed.stderr, /removed 8 cache entries/);
    const after = await fairline(['cache', 'ls', '--json'], env);
    assert.deepEqual(JSON.parse(after.stdout), []);
  });

  test('a failing pipeline exits 1 and the table shows the failure and the skipped stage', async () => {
    const file = join(dir, 'broken.yaml');
    await writeFile(
      file,
      `name: broken\nstages:\n  - { id: gone, uses: download, with: { url: "${http.url('/missing/x')}" } }\n  - { id: next, uses: download, needs: [gone], with: { url: "${http.url('/files/y')}" } }\n`,
    );
    const { code, stdout, stderr } = await fairline(['run', file], env);
    assert.equal(code, 1);
    assert.match(stderr, /run failed: stage "gone" failed: download of .* failed with HTTP 404/);
    // Attempts as Temporal counted them: the 404 failed for good on attempt 1.
    assert.match(stdout, /gone\s+failed\s+no\s+1\s/);
    assert.match(stdout, /next\s+skipped \(after gone\)/);
  });

  test('a detached run can be cancelled by its run id, and the same id cannot run twice at once', async () => {
    const file = join(dir, 'slow.yaml');
    await writeFile(
      file,
      `name: slow\nstages:\n  - id: trickle\n    uses: download\n    timeout: { heartbeat: 3s }\n    with: { url: "${http.url('/trickle/slow.bin')}" }\n`,
    );
    const started = await fairline(['run', file, '--id', 'to-cancel', '--detach'], env);
    assert.equal(started.code, 0, started.stderr);
    assert.equal(JSON.parse(started.stdout).workflowId, 'pipeline/slow/to-cancel');
    const twice = await fairline(['run', file, '--id', 'to-cancel', '--detach'], env);
    // Its own exit code (not 1, a failed run) and one clear line, no stack trace.
    assert.equal(twice.code, EXIT_RUN_ID_TAKEN);
    const lines = twice.stderr.split('\n').filter((l) => l.trim() !== '' && !/^npm warn/.test(l));
    assert.deepEqual(lines.length, 1, twice.stderr);
    assert.match(
      lines[0]!,
      /^run to-cancel of slow is already running \(pipeline\/slow\/to-cancel\); follow it at http:\/\/\S+ or pick another --id$/,
    );
    const cancelled = await fairline(['cancel', 'to-cancel'], env);
    assert.equal(cancelled.code, 0, cancelled.stderr);
    assert.match(cancelled.stdout, /pipeline\/slow\/to-cancel: cancelled/);
  });

  test('a stage waiting on a queue that no worker polls gets a warning naming the queue', async () => {
    const configFile = join(dir, 'lonely.json');
    await writeFile(configFile, JSON.stringify({ taskQueues: { cpu: 'lonely-cpu', gpu: 'lonely-gpu' } }));
    const cpuOnly = spawn(
      process.execPath,
      [join(PROJECT_ROOT, 'cli', 'bin.mjs'), '--config', configFile, 'worker', '--queues', 'cpu'],
      { cwd: PROJECT_ROOT, env, stdio: 'ignore' },
    );
    const file = join(dir, 'gpu-stage.yaml');
    await writeFile(
      file,
      `name: lonely\nstages:\n  - { id: on-gpu, uses: download, queue: gpu, with: { url: "${http.url('/files/g.txt')}" } }\n`,
    );
    const run = spawn(
      process.execPath,
      [join(PROJECT_ROOT, 'cli', 'bin.mjs'), '--config', configFile, 'run', file, '--id', 'lonely-1'],
      { cwd: PROJECT_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    try {
      const warning = await new Promise<string>((found, fail) => {
        let seen = '';
        run.stderr!.on('data', (c: Buffer) => {
          seen += c.toString();
          const line = seen.split('\n').find((l) => l.includes('no worker polls'));
          if (line) found(line);
        });
        run.on('exit', (code) => fail(new Error(`run exited (${code}) without a warning:\n${seen}`)));
      });
      assert.match(
        warning,
        /stage on-gpu is waiting on task queue "lonely-gpu", which no worker polls: start one with `npx fairline worker --queues gpu`/,
      );
    } finally {
      run.kill('SIGTERM');
      await fairline(['--config', configFile, 'cancel', 'lonely-1', '--wait', '5'], env);
      await stopProcess(cpuOnly);
    }
  });

  test('an invalid pipeline is refused before anything starts, with FILE:LINE:COL', async () => {
    const file = join(dir, 'invalid.yaml');
    await writeFile(file, 'name: invalid\nstages:\n  - id: a\n    uses: nope\n');
    const { code, stderr } = await fairline(['run', file], env);
    assert.equal(code, 1);
    assert.match(
      stderr,
      new RegExp(`${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:4:11: .*unknown stage type "nope"`),
    );
  });
});
