/**
 * Connections to Temporal, built from the config. TLS material and API keys are read here, at
 * connection time, from files and environment variables: they never enter the config object,
 * workflow inputs, histories or logs.
 */
import { readFileSync } from 'node:fs';
import { Client, Connection, type ConnectionOptions } from '@temporalio/client';
import type { NativeConnection, NativeConnectionOptions } from '@temporalio/worker';
import { condition } from './errors';
import type { TlsConfig } from './tls';

/** No Temporal answered at the configured address: a client command cannot do anything without one. */
export class TemporalUnreachable extends condition('TemporalUnreachable', true) {
  constructor(
    readonly address: string,
    readonly namespace: string,
    readonly detail: string,
  ) {
    super(
      `cannot reach Temporal at ${address} (namespace ${namespace}): ${detail}. ` +
        'Start the local stack with `npx fairline dev`, or point FAIRLINE_TEMPORAL_ADDRESS at your cluster',
    );
  }
}

interface SharedOptions {
  address: string;
  tls?:
    | { clientCertPair?: { crt: Buffer; key: Buffer }; serverRootCACertificate?: Buffer; serverNameOverride?: string }
    | true;
  apiKey?: string;
}

/**
 * The part of the config a connection needs. Declared here, below the config module, so this
 * layer does not import upward; `FairlineConfig` (temporal.config.ts) satisfies it.
 */
export interface ConnectionConfig {
  temporal: {
    address: string;
    namespace: string;
    tls?: TlsConfig;
    apiKeyEnv?: string;
  };
}

function sharedOptions(config: ConnectionConfig): SharedOptions {
  const { tls, apiKeyEnv, address } = config.temporal;
  const apiKey = apiKeyEnv ? process.env[apiKeyEnv] : undefined;
  if (tls) {
    return {
      address,
      tls: {
        clientCertPair: { crt: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) },
        ...(tls.caFile ? { serverRootCACertificate: readFileSync(tls.caFile) } : {}),
        ...(tls.serverName ? { serverNameOverride: tls.serverName } : {}),
      },
      ...(apiKey ? { apiKey } : {}),
    };
  }
  // An API key (Temporal Cloud) always travels over TLS.
  return apiKey ? { address, tls: true, apiKey } : { address };
}

/**
 * A client connection (CLI, tests). No Temporal at the address is TemporalUnreachable: the SDK's
 * own error is a gRPC stack trace that names neither the address nor what to do.
 */
export async function connectClient(
  config: ConnectionConfig,
  extra: Partial<ConnectionOptions> = {},
): Promise<Connection> {
  // TLS files are read first, outside the try: a missing certificate is its own error, not this one.
  const options = { ...sharedOptions(config), ...extra };
  try {
    return await Connection.connect(options);
  } catch (error) {
    throw new TemporalUnreachable(
      config.temporal.address,
      config.temporal.namespace,
      error instanceof Error ? error.message : String(error),
    );
  }
}

/** A worker connection. The worker SDK is loaded only here: client commands never need it. */
export async function connectWorker(
  config: ConnectionConfig,
  extra: Partial<NativeConnectionOptions> = {},
): Promise<NativeConnection> {
  const { NativeConnection } = await import('@temporalio/worker');
  return NativeConnection.connect({ ...sharedOptions(config), ...extra });
}

/** Runs `body` with a client on the configured namespace, closing the connection afterwards. */
export async function withClient<T>(config: ConnectionConfig, body: (client: Client) => Promise<T>): Promise<T> {
  const connection = await connectClient(config);
  try {
    return await body(new Client({ connection, namespace: config.temporal.namespace }));
  } finally {
    await connection.close();
  }
}
