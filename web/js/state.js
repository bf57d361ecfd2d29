// Shared UI state: the time range and the live stream, with change notification for the pages.
import { live } from './api.js';

const listeners = new Set();
export const state = {
  range: { last: '15m' }, // or { from: ISO, to: ISO }
  liveOn: false,
};

export function rangeParams() {
  return state.range.last ? { from: `now-${state.range.last}`, to: 'now' } : { from: state.range.from, to: state.range.to };
}

/** Live updates only make sense for a range that ends now. */
export function isLive() {
  return Boolean(state.range.last);
}

export function setRange(r) {
  state.range = r;
  for (const fn of listeners) fn('range');
}

export function onChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

const liveHandlers = new Set();
export function onLive(fn) {
  liveHandlers.add(fn);
  return () => liveHandlers.delete(fn);
}

export function startLive(onState) {
  return live(
    {
      flows: (d) => { for (const fn of liveHandlers) fn('flows', d); },
      records: (d) => { for (const fn of liveHandlers) fn('records', d); },
    },
    (on) => { state.liveOn = on; onState(on); },
  );
}
