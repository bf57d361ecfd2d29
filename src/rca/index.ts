export * from './types.js';
export * from './rank.js';
export * from './baseline.js';
export * from './pipeline.js';
export * from './red-series.js';
export * from './live-series.js';
export * from './live-monitor.js';
export * from './series-file.js';
