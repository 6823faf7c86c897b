import type { RandomSource } from './ports.js';

/**
 * seededRandom returns a deterministic RandomSource (SplitMix32-style mixing over a
 * 32-bit state): the same seed gives the same sequence on every machine.
 */
export function seededRandom(seed: number): RandomSource {
  let state = seed >>> 0;
  return (bound: number) => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    z = (z ^ (z >>> 16)) >>> 0;
    return Math.floor((z / 0x1_0000_0000) * bound);
  };
}
