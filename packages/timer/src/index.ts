export { type BackoffOptions, backoffDelay, mathRandom } from './backoff.js';
export {
  type Clock,
  MAX_TIMEOUT_MS,
  realClock,
  type TimeoutOptions,
  type TimerHandle,
} from './clock.js';
export { IntervalTicker, type IntervalTickerOptions } from './interval-ticker.js';
export { ManualClock } from './manual-clock.js';
