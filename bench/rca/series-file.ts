// The series file format and reader live in src/rca/series-file.ts (the CLI reads the same files).
export { readRecording, readSeriesText, type Recording, type Truth } from '../../src/rca/series-file.js';
