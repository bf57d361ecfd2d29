export * from './types.js';
export * from './graph.js';
export * from './manager.js';
export * from './report.js';
