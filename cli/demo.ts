/**
 * `npm run demo`: runs pipelines/demo.yaml end to end on the embedded stack (starting the
 * Temporal dev server and a worker when none is running), then says in plain words what changed
 * between the compared models (report/summary.ts) and where to look.
 */
import { join } from 'node:path';
import { PROJECT_ROOT } from '../common/paths';
import { reportSchema } from '../report/schema';
import { closingLines } from '../report/summary';
import { openStore } from '../store';
import { artifactRefSchema } from '../store/types';
import type { FairlineConfig } from '../temporal.config';
import type { RunProgress } from '../workflows/pipeline-run';
import { runCommand } from './run';

/** The report stage's report.json, read from the store, as closing lines; nothing when the run has none. */
async function printClosingLines(progress: RunProgress, config: FairlineConfig): Promise<void> {
  const stage = progress.stages.find((s) => s.uses === 'report');
  const ref = artifactRefSchema.safeParse(stage?.outputs?.report);
  if (!ref.success) return;
  const store = openStore(config);
  try {
    const report = reportSchema.safeParse(JSON.parse((await store.read(ref.data)).toString('utf8')));
    if (!report.success) return;
    process.stdout.write(`\nWhat changed between the models:\n${closingLines(report.data).join('\n')}\n`);
  } finally {
    await store.close();
  }
}

export async function demoCommand(config: FairlineConfig): Promise<number> {
  process.stderr.write('fairline demo: pipelines/demo.yaml on the embedded stack\n');
  const code = await runCommand(
    join(PROJECT_ROOT, 'pipelines', 'demo.yaml'),
    { afterRun: (progress) => printClosingLines(progress, config) },
    config,
  );
  if (code === 0) {
    process.stderr.write(
      `\nThe dev server keeps its history in .fairline/temporal.db: \`npx fairline dev\` brings the Web UI back (${config.temporal.uiUrl}) with this run in it.\n` +
        `Artifacts are in ${config.store.uri}; run \`npm run demo\` again to see every stage served from the cache.\n`,
    );
  }
  return code;
}
