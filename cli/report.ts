/**
 * `fairline report RUN_ID [--out PATH]`: where a run's report is (report.html and report.json in
 * the artifact store, named by the run's memo), its headline numbers, and with `--out` a local
 * copy: a folder gets report.html + report.json, a file path gets the HTML and the JSON beside
 * it (same name, .json).
 */
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RunNotFound, RunRecordInvalid, RunReportMissing } from '../client/errors';
import { parseRecord, readStored, runMemo } from '../client/records';
import { ArtifactNotFound } from '../common/errors';
import { withClient } from '../common/connections';
import { reportSchema } from '../report/schema';
import { openStore } from '../store';
import type { FairlineConfig } from '../temporal.config';

const print = (line: string): void => void process.stdout.write(`${line}\n`);

/** The memo keys the report stage publishes (stages/report/contract.ts). */
const MEMO = { json: 'report', html: 'reportHtml' } as const;

/** A file:// URI as the path a person can open; other URIs as they are. */
const shown = (uri: string): string => (uri.startsWith('file://') ? fileURLToPath(uri) : uri);

const num = (v: number | null): string => (v === null ? '—' : v.toFixed(4));

export async function reportCommand(
  config: FairlineConfig,
  id: string,
  opts: { pipeline?: string; out?: string; json?: boolean },
): Promise<number> {
  try {
    const { workflowId, memo } = await withClient(config, (client) => runMemo(client, id, { pipeline: opts.pipeline }));
    const json = memo[MEMO.json];
    const html = memo[MEMO.html];
    if (typeof json !== 'string' || typeof html !== 'string') {
      throw new RunReportMissing(
        workflowId,
        'its memo names no report: the run is still running, or its pipeline has no report stage, or the report stage did not run',
      );
    }
    const store = openStore(config);
    try {
      const jsonBytes = await readStored(store, json);
      const report = parseRecord(json, jsonBytes, reportSchema);
      const written = opts.out ? await writeCopy(opts.out, await readStored(store, html), jsonBytes) : undefined;
      if (opts.json) {
        print(
          JSON.stringify(
            { run: workflowId, report: json, html, headline: report.headline, ...(written ? { written } : {}) },
            null,
            2,
          ),
        );
        return 0;
      }
      const h = report.headline;
      print(`run:         ${workflowId}`);
      print(`report.html: ${shown(html)}`);
      print(`report.json: ${shown(json)}`);
      print(
        `headline:    model ${h.model ?? '—'} · macro F1 ${num(h.macro_f1)} · micro F1 ${num(h.micro_f1)} · max |reactivity| ${num(h.reactivity)} · gate ${h.gate_passed === null ? '—' : h.gate_passed ? 'passed' : 'FAILED'}`,
      );
      if (written) print(`written:     ${written.html} and ${written.json}`);
      return 0;
    } finally {
      await store.close();
    }
  } catch (error) {
    if (
      error instanceof RunNotFound ||
      error instanceof RunReportMissing ||
      error instanceof RunRecordInvalid ||
      error instanceof ArtifactNotFound
    ) {
      process.stderr.write(`fairline report: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
}

/** Writes the copy: into a folder (existing, or a path ending in /), or as a file with its JSON beside it. */
async function writeCopy(out: string, html: Buffer, json: Buffer): Promise<{ html: string; json: string }> {
  const isDir =
    out.endsWith('/') ||
    (await stat(out).then(
      (s) => s.isDirectory(),
      () => false,
    ));
  const target = isDir
    ? { html: join(out, 'report.html'), json: join(out, 'report.json') }
    : {
        html: out,
        json: extname(out) === '.json' ? `${out}.json` : `${out.slice(0, out.length - extname(out).length)}.json`,
      };
  await mkdir(dirname(target.html), { recursive: true });
  await writeFile(target.html, html);
  await writeFile(target.json, json);
  return target;
}
