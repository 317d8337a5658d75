/**
 * The `fairline` command line. Each command is a thin wrapper: parse flags, load the config, call
 * the module that does the work, turn its result into an exit code.
 */
import { Command, Option } from 'commander';
import { ConfigInvalid, FairlineError, SecretMissing } from '../common/errors';
import { loadConfig, readConfigFile, type FairlineConfig } from '../temporal.config';
import { formatChecks, runDoctor } from './doctor';
import { devCommand, workerCommand } from './dev';
import { RUNS_DEFAULT_LIMIT } from '../common/constants';
import { compareCommand } from './compare';
import { reportCommand } from './report';
import { DEFAULT_CPU_CONCURRENCY } from '../worker/create';
import { cacheLsCommand, cacheRmCommand, cancelCommand, lineageCommand } from './inspect';
import { runsCommand } from './runs';
import { runCommand } from './run';
import {
  scheduleApplyCommand,
  scheduleBackfillCommand,
  scheduleDescribeCommand,
  scheduleListCommand,
  scheduleStateCommand,
} from './schedule';
import { validateCommand } from './validate';

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

function config(program: Command): FairlineConfig {
  const file = program.opts<{ config?: string }>().config;
  return loadConfig(file ? readConfigFile(file) : {});
}

export function buildProgram(): Command {
  const program = new Command('fairline')
    .description('Bias-aware text-classifier pipelines as Temporal workflows')
    .option('--config <file>', 'config overrides (JSON or YAML); environment variables and defaults fill the rest')
    .showHelpAfterError();

  program
    .command('doctor')
    .description('check Temporal, the artifact store, the trainer env and onnxruntime; exit 1 on any failure')
    .action(async () => {
      const rows = await runDoctor(config(program));
      process.stdout.write(`${formatChecks(rows)}\n`);
      process.exitCode = rows.every((r) => r.ok) ? 0 : 1;
    });

  program
    .command('dev')
    .description(
      'start the embedded stack: Temporal dev server (+ Web UI), MinIO for an S3 store, a worker for all queues',
    )
    .action(async () => {
      process.exitCode = await devCommand(config(program));
    });

  program
    .command('worker')
    .description('run a worker for production')
    .option('--queues <list>', 'comma-separated task queues to poll', 'cpu,gpu')
    .option('--max-cpu <n>', 'max concurrent activities on the cpu queue', String(DEFAULT_CPU_CONCURRENCY))
    .option(
      '--max-gpu <n>',
      'max concurrent activities on the gpu queue (default: one per visible GPU, 1 without a GPU)',
    )
    .option('--health-port <n>', 'serve GET /healthz on this port (200 while every worker polls) for liveness probes')
    .action(async (opts: { queues: string; maxCpu: string; maxGpu?: string; healthPort?: string }) => {
      process.exitCode = await workerCommand(config(program), opts);
    });

  program
    .command('setup')
    .description(
      "create the namespace and register fairline's search attributes on the configured cluster (idempotent)",
    )
    .option('--retention <days>', 'history retention of a namespace this creates', '7')
    .option('--bucket', "also create the s3:// store's bucket when missing (MinIO)")
    .option('--json', 'machine-readable output')
    .action(async (opts: { retention: string; json?: boolean; bucket?: boolean }) => {
      const { setupCommand } = await import('./setup');
      process.exitCode = await setupCommand(config(program), opts);
    });

  program
    .command('cluster')
    .description('the production topology on this machine: PostgreSQL, the Temporal server, MinIO, worker processes')
    .command('up')
    .description('start it all on loopback and print the addresses; Ctrl-C stops it all')
    .option('--cpu-workers <n>', 'worker processes polling the cpu queue', '1')
    .option('--gpu-workers <n>', 'worker processes polling the gpu queue', '1')
    .option('--dir <path>', 'keep the database, objects and logs here (default: a temp folder, removed on stop)')
    .option('--port <n>', 'Temporal frontend port (default: a free one)')
    .action(async (opts: { cpuWorkers: string; gpuWorkers: string; dir?: string; port?: string }) => {
      const { clusterUpCommand } = await import('./cluster');
      process.exitCode = await clusterUpCommand(opts);
    });

  program
    .command('validate')
    .description('validate pipeline YAML files; print FILE:LINE:COL for every problem')
    .argument('<files...>')
    .option('--set <param=value>', 'override a param, e.g. --set params.lr=2e-5 (repeatable)', collect, [])
    .action(async (files: string[], opts: { set: string[] }) => {
      process.exitCode = await validateCommand(files, { set: opts.set });
    });

  program
    .command('run')
    .description('validate a pipeline and run it on Temporal, following its progress')
    .argument('<file>')
    .option('--set <param=value>', 'override a param, e.g. --set params.lr=2e-5 (repeatable)', collect, [])
    .option('--id <run-id>', 'run id (default: time-based); one id never runs twice at once')
    .option('--no-cache', 'recompute every stage (results are still cached for later runs)')
    .option(
      '--no-resume',
      'start training afresh instead of from the checkpoints an earlier failed run with this --id left',
    )
    .option('--detach', 'start the run and exit without following it')
    .addOption(new Option('--trigger <who>').hideHelp().default('cli'))
    .action(
      async (
        file: string,
        opts: { set: string[]; id?: string; cache: boolean; resume: boolean; detach?: boolean; trigger: string },
      ) => {
        process.exitCode = await runCommand(
          file,
          {
            set: opts.set,
            noCache: !opts.cache,
            noResume: !opts.resume,
            detach: opts.detach ?? false,
            trigger: opts.trigger,
            ...(opts.id ? { id: opts.id } : {}),
          },
          config(program),
        );
      },
    );

  program
    .command('cancel')
    .description('cancel a running pipeline run; its stages stop at their next heartbeat')
    .argument('<run-id>', 'run id, pipeline/run, or the whole workflow id')
    .option('--wait <seconds>', 'how long to wait for the run to end', '60')
    .action(async (runId: string, opts: { wait: string }) => {
      process.exitCode = await cancelCommand(config(program), runId, opts);
    });

  program
    .command('runs')
    .description('list recent pipeline runs with their macro F1, reactivity and bias gate (docs/runs.md)')
    .option('--pipeline <name>', 'only runs of this pipeline')
    .option('--where <filter>', `a Temporal list filter over the search attributes, e.g. 'FairlineReactivity > 0.07'`)
    .option('--limit <n>', 'at most this many, newest first', String(RUNS_DEFAULT_LIMIT))
    .option('--json', 'machine-readable output')
    .action(async (opts: { pipeline?: string; where?: string; limit: string; json?: boolean }) => {
      process.exitCode = await runsCommand(config(program), opts);
    });

  program
    .command('compare')
    .description(
      'what changed from run A to run B: spec and params, digests, metric, reactivity and gate deltas (B − A, the better direction marked)',
    )
    .argument('<run-a>', 'run id, pipeline/run, or the whole workflow id')
    .argument('<run-b>', 'the run to compare with A, named the same ways')
    .option(
      '--pipeline <name>',
      'the pipeline both runs belong to (needed when a bare run id is used by several pipelines)',
    )
    .option('--json', 'machine-readable output')
    .action(async (runA: string, runB: string, opts: { pipeline?: string; json?: boolean }) => {
      process.exitCode = await compareCommand(config(program), runA, runB, opts);
    });

  program
    .command('report')
    .description(
      "where a run's report is (report.html, report.json), its headline numbers, and a local copy with --out",
    )
    .argument('<run>', 'run id, pipeline/run, or the whole workflow id')
    .option(
      '--pipeline <name>',
      'the pipeline the run belongs to (needed when a bare run id is used by several pipelines)',
    )
    .option(
      '--out <path>',
      'write report.html there (a folder gets report.html and report.json; a file path gets its .json beside it)',
    )
    .option('--json', 'machine-readable output')
    .action(async (run: string, opts: { pipeline?: string; out?: string; json?: boolean }) => {
      process.exitCode = await reportCommand(config(program), run, opts);
    });

  program
    .command('lineage')
    .description('name the run and stage that produced an artifact')
    .argument('<uri>')
    .option('--json', 'machine-readable output')
    .action(async (uri: string, opts: { json?: boolean }) => {
      process.exitCode = await lineageCommand(config(program), uri, opts);
    });

  const cache = program.command('cache').description('inspect or clear the stage cache');
  cache
    .command('ls')
    .description('list cache entries')
    .option('--pipeline <name>', 'only entries of this pipeline')
    .option('--json', 'machine-readable output')
    .action(async (opts: { pipeline?: string; json?: boolean }) => {
      process.exitCode = await cacheLsCommand(config(program), opts);
    });
  cache
    .command('rm')
    .description('remove cache entries (the artifacts stay); their stages run again next time')
    .argument('[keys...]', 'cache keys or unique prefixes')
    .option('--pipeline <name>', 'every entry of this pipeline')
    .option('--all', 'every entry')
    .action(async (keys: string[], opts: { pipeline?: string; all?: boolean }) => {
      process.exitCode = await cacheRmCommand(config(program), keys, opts);
    });

  program
    .command('gc')
    .description(
      "remove stored objects nothing refers to (manifests, cache entries, lineage, live runs' checkpoints keep theirs)",
    )
    .option('--dry-run', 'print what would be removed and the bytes; remove nothing')
    .option(
      '--min-age <minutes>',
      'keep objects written less than this long ago (a running stage may not have recorded them yet)',
      '60',
    )
    .option(
      '--keep-checkpoints',
      'keep the checkpoints of ended executions (a rerun of a failed run resumes from them)',
    )
    .option('--json', 'machine-readable output')
    .action(async (opts: { dryRun?: boolean; minAge: string; keepCheckpoints?: boolean; json?: boolean }) => {
      const { gcCommand } = await import('./gc');
      process.exitCode = await gcCommand(config(program), opts);
    });

  const schedule = program
    .command('schedule')
    .description("retrain on Temporal Schedules from a pipeline's schedule: block");
  schedule
    .command('apply')
    .description('create or update the schedules of pipeline files (idempotent; prints what changes)')
    .argument('<files...>')
    .action(async (files: string[]) => {
      process.exitCode = await scheduleApplyCommand(config(program), files);
    });
  schedule
    .command('list')
    .description('list fairline schedules')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      process.exitCode = await scheduleListCommand(config(program), opts);
    });
  schedule
    .command('describe')
    .description('next 5 run times and the last runs with their status and bias gate')
    .argument('<pipeline>')
    .option('--json', 'machine-readable output')
    .action(async (name: string, opts: { json?: boolean }) => {
      process.exitCode = await scheduleDescribeCommand(config(program), name, opts);
    });
  for (const verb of ['pause', 'unpause'] as const) {
    schedule
      .command(verb)
      .description(`${verb} a schedule, with a note`)
      .argument('<pipeline>')
      .option('--note <text>', 'why')
      .action(async (name: string, opts: { note?: string }) => {
        process.exitCode = await scheduleStateCommand(config(program), name, verb, opts.note);
      });
  }
  for (const verb of ['trigger', 'delete'] as const) {
    schedule
      .command(verb)
      .description(verb === 'trigger' ? 'start a scheduled run now' : 'delete a schedule (its past runs stay)')
      .argument('<pipeline>')
      .action(async (name: string) => {
        process.exitCode = await scheduleStateCommand(config(program), name, verb);
      });
  }
  schedule
    .command('backfill')
    .description('run the schedule for every time it would have fired in a past range')
    .argument('<pipeline>')
    .requiredOption('--from <iso-time>', 'start of the range')
    .requiredOption('--to <iso-time>', 'end of the range')
    .action(async (name: string, opts: { from: string; to: string }) => {
      process.exitCode = await scheduleBackfillCommand(config(program), name, opts);
    });

  program
    .command('demo')
    .description('run pipelines/demo.yaml on the embedded stack (what `npm run demo` does)')
    .action(async () => {
      const { demoCommand } = await import('./demo');
      process.exitCode = await demoCommand(config(program));
    });

  program
    .command('metrics')
    .description(
      'score a predictions file and print the metrics as JSON (docs/metrics.md); exit 2 on bad input, naming FILE:LINE',
    )
    .addOption(
      new Option('--task <task>', 'how to read the rows')
        .choices(['multilabel', 'multiclass', 'binary'])
        .makeOptionMandatory(),
    )
    .requiredOption(
      '--input <file>',
      'JSONL, one {"y_true": …, "y_score": …} per line (- for stdin); multiclass: class index + probability vector, multilabel: 0/1 vector + probability vector, binary: 0/1 + P(class 1)',
    )
    .option('--labels <a,b,c>', 'label names in y_score order (default: 0,1,2,…; binary: 0,1)')
    .option('--exclude <label>', "leave this label out of micro_f1 only (KLUE-RE's no_relation)")
    .option('--threshold <p>', 'multilabel/binary: positive when score > p (default 0.5, as the trainer)')
    .action(async (opts: { task: string; input: string; labels?: string; exclude?: string; threshold?: string }) => {
      const { metricsCommand } = await import('./metrics');
      process.exitCode = await metricsCommand(opts);
    });

  return program;
}

buildProgram()
  .parseAsync(process.argv)
  .catch((error: unknown) => {
    if (error instanceof ConfigInvalid || error instanceof SecretMissing) {
      process.stderr.write(`fairline: ${error.message}\n`);
      process.exitCode = 2;
    } else if (error instanceof FairlineError) {
      process.stderr.write(`fairline: ${error.type}: ${error.message}\n`);
      process.exitCode = 1;
    } else {
      process.stderr.write(`fairline: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exitCode = 1;
    }
  });
