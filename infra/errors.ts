/** What can go wrong starting fairline's own services (dev server, MinIO); see common/errors.ts for the style. */
import { condition } from '../common/errors';

/**
 * A port the embedded stack must listen on is held by another program (often another fairline
 * stack started from another folder). Permanent: waiting does not free it.
 */
export class PortInUse extends condition('PortInUse', false) {
  constructor(
    readonly port: number,
    readonly purpose: string,
    readonly advice: string,
  ) {
    super(
      `port ${port} (${purpose}) on 127.0.0.1 is taken by another program, perhaps another fairline stack; ${advice}`,
    );
  }
}
