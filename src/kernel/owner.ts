// What a map, program or ring buffer needs from the object that owns it (avoids an import cycle).
import type { Handle } from './native.js';

export interface ObjectOwner {
  readonly path: string;
  /** The native object handle; throws when the object was closed. */
  handle(): Handle;
}
