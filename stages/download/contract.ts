/**
 * The contract of the `download` stage (implementation: implementation.ts): one file fetched over
 * http(s), s3 or file, checked against its sha256 when one is pinned, stored as an artifact.
 * Workflow-safe: zod only.
 */
import { z } from 'zod';
import { TASK_QUEUES } from '../../common/constants';
import { artifactOutput, defineContract, FETCH_RETRY } from '../define';

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'must be a sha256: 64 lowercase hex characters');

export const downloadWithSchema = z
  .object({
    url: z
      .string()
      .regex(
        /^(https?|s3|file):\/\/\S+$/,
        'must be an http(s)://, s3:// or file:// URL, or a path (./relative to the pipeline file, or /absolute)',
      ),
    sha256: sha256Hex.optional(),
    /** File name of the stored artifact; defaults to the URL's last path segment. */
    name: z
      .string()
      .regex(/^[\p{L}\p{N}._\-=+@,~]+$/u, 'a plain file name')
      .optional(),
    /** Guard against runaway downloads. */
    maxBytes: z.number().int().positive().optional(),
  })
  .strict();
export type DownloadWith = z.infer<typeof downloadWithSchema>;

export const downloadContract = defineContract({
  name: 'download',
  version: '1',
  description: 'Fetch a dataset file (http(s), s3, file), verify its sha256, store it as an artifact',
  with: downloadWithSchema,
  outputs: { dataset: artifactOutput },
  publish: { searchAttributes: { dataset: 'FairlineDatasetDigest' } },
  source: true,
  // An unpinned download depends on a remote file its inputs do not show: it always runs.
  cacheable: (input) => typeof input.sha256 === 'string',
  relativePaths: ['url'],
  defaults: {
    queue: TASK_QUEUES.cpu,
    retry: FETCH_RETRY,
    timeout: { startToCloseMs: 30 * 60_000, heartbeatMs: 30_000 },
  },
});
