/** `fairline setup`: the namespace and fairline's search attributes on the configured cluster, idempotently. */
import { connectClient } from '../common/connections';
import { setupNamespace } from '../common/setup';
import type { FairlineConfig } from '../temporal.config';

const say = (line: string): void => void process.stderr.write(`${line}\n`);

export async function setupCommand(config: FairlineConfig, opts: { retention: string; json?: boolean }): Promise<number> {
  const retentionDays = Number(opts.retention);
  if (!Number.isInteger(retentionDays) || retentionDays < 1) {
    say(`--retention takes a whole number of days (1 or more), got ${JSON.stringify(opts.retention)}`);
    return 2;
  }
  const connection = await connectClient(config);
  try {
    const result = await setupNamespace(connection, config.temporal.namespace, { retentionDays, log: say });
    if (opts.json) process.stdout.write(`${JSON.stringify({ namespace: config.temporal.namespace, address: config.temporal.address, ...result })}\n`);
    else say(`${config.temporal.address} namespace ${config.temporal.namespace}: ready for fairline`);
    return 0;
  } finally {
    await connection.close();
  }
}
