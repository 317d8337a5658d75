/** Opens the artifact store the config names: `file://` (default) or `s3://`. */
import { fileURLToPath } from 'node:url';
import { ENV } from '../common/constants';
import type { FairlineConfig } from '../temporal.config';
import { FsArtifactStore } from './fs-store';
import { createS3Store } from './s3-store';
import type { ArtifactStore } from './types';

export type { ArtifactRef, ArtifactStore } from './types';

export function openStore(config: FairlineConfig, env: NodeJS.ProcessEnv = process.env): ArtifactStore {
  const { uri, s3 } = config.store;
  if (uri.startsWith('file://')) return new FsArtifactStore(fileURLToPath(uri));
  const accessKeyId = env[ENV.s3AccessKeyId];
  const secretAccessKey = env[ENV.s3SecretAccessKey];
  return createS3Store({
    uri,
    region: s3.region,
    forcePathStyle: s3.forcePathStyle,
    ...(s3.endpoint ? { endpoint: s3.endpoint } : {}),
    // loadConfig already checked that `env` credentials are present.
    ...(s3.credentials === 'env' && accessKeyId && secretAccessKey
      ? {
          credentials: {
            accessKeyId,
            secretAccessKey,
            ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
          },
        }
      : {}),
  });
}
