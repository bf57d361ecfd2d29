export * from './entity.js';
export * from './signals.js';
export * from './robust.js';
export * from './cusum.js';
export * from './trend.js';
export * from './detector.js';
