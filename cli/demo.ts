/**
 * `npm run demo`: runs pipelines/demo.yaml end to end on the embedded stack (starting the
 * Temporal dev server and a worker when none is running) and prints where to look.
 */
import { join } from 'node:path';
import { PROJECT_ROOT } from '../common/paths';
import type { FairlineConfig } from '../temporal.config';
import { runCommand } from './run';

export async function demoCommand(config: FairlineConfig): Promise<number> {
  process.stderr.write('fairline demo: pipelines/demo.yaml on the embedded stack\n');
  const code = await runCommand(join(PROJECT_ROOT, 'pipelines', 'demo.yaml'), {}, config);
  if (code === 0) {
    process.stderr.write(
      `\nThe dev server keeps its history in .fairline/temporal.db: \`npx fairline dev\` brings the Web UI back (${config.temporal.uiUrl}) with this run in it.\n` +
        `Artifacts are in ${config.store.uri}; run \`npm run demo\` again to see every stage served from the cache.\n`,
    );
  }
  return code;
}
