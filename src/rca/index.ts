export * from './types.js';
export * from './rank.js';
export * from './baseline.js';
export * from './pipeline.js';
export * from './red-series.js';
