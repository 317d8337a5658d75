/**
 * Where a Temporal connection's TLS material lives: file paths only, read when connecting
 * (common/connections.ts), never copied into the config. The config (temporal.config.ts) validates
 * it with this schema; the connection code takes its type, so neither restates the other.
 */
import { z } from 'zod';

export const tlsConfigSchema = z
  .object({
    /** Client certificate (PEM) for mTLS, e.g. Temporal Cloud. */
    certFile: z.string().min(1),
    /** Client private key (PEM). The file is read when connecting, never copied into config. */
    keyFile: z.string().min(1),
    /** CA bundle for a self-hosted cluster with a private CA. */
    caFile: z.string().min(1).optional(),
    serverName: z.string().min(1).optional(),
  })
  .strict();
export type TlsConfig = z.infer<typeof tlsConfigSchema>;
