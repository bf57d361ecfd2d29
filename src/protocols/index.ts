// Public surface of the L7 parsers: pure functions and per-connection state, no I/O.
export * from './types.js';
export { ConnectionParser, type ConnectionOptions } from './connection.js';
export { detectProtocol, classifyChunk, type Classification } from './detect.js';
export { normalisePath, RouteNormaliser, OTHER_ROUTE } from './route.js';
export { normaliseSql, sqlVerb } from './sql.js';
export { isValidRecord } from './validate.js';
