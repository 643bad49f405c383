import { describe, expect, it } from 'vitest';
import {
  budgetFromMetadata,
  budgetHeaders,
  budgetMetadata,
  fitByteBudget,
  MAX_ENCODES,
  MIN_QUALITY,
  QUALITY_STEP,
  qualitySteps,
} from '../../src/transform/byte-budget.js';

/**
 * The search on its own, with an encoder whose size is a known function of the quality: which
 * qualities it tries, how many, and what it answers. Real encodes are in output-control.test.ts.
 */
function sizedBy(size: (quality: number) => number) {
  const tried: number[] = [];
  const encode = async (quality: number) => {
    tried.push(quality);
    return Buffer.alloc(size(quality));
  };
  return { tried, encode };
}

const linear = (quality: number) => 1000 + quality * 100;

describe('fitByteBudget', () => {
  it('answers the requested quality in one encode when it fits', async () => {
    const { tried, encode } = sizedBy(linear);
    const result = await fitByteBudget(100_000, 80, encode);
    expect(result).toMatchObject({ quality: 80, fits: true, encodes: 1 });
    expect(tried).toEqual([80]);
  });

  it.each([
    // budget → the largest grid quality whose size fits (size = 1000 + 100 q)
    [8_999, 75],
    [8_500, 75],
    [8_499, 70],
    [5_000, 40],
    [2_000, 10],
    [2_499, 10],
    [2_500, 15],
  ])('budget %i with q=80 → q=%i, the next step up does not fit', async (budget, quality) => {
    const { tried, encode } = sizedBy(linear);
    const result = await fitByteBudget(budget, 80, encode);
    expect(result).toMatchObject({ quality, fits: true });
    expect(result.data.length).toBeLessThanOrEqual(budget);
    expect(linear(Math.min(quality + QUALITY_STEP, 80))).toBeGreaterThan(budget);
    expect(result.encodes).toBe(tried.length);
    expect(result.encodes).toBeLessThanOrEqual(MAX_ENCODES);
  });

  it('answers the smallest encode, marked as not fitting, when even the lowest quality is too big', async () => {
    const { tried, encode } = sizedBy(linear);
    const result = await fitByteBudget(1_500, 80, encode);
    expect(result).toMatchObject({ quality: MIN_QUALITY, fits: false });
    expect(result.data.length).toBe(linear(MIN_QUALITY));
    expect(tried).toContain(MIN_QUALITY);
    expect(tried.length).toBeLessThanOrEqual(MAX_ENCODES);
  });

  it.each([100, 99, 80, 73, 50, 12, 10, 5, 1])('never makes more than MAX_ENCODES encodes (q=%i)', async (ceiling) => {
    for (const budget of [1, 1_500, 2_000, 3_000, 5_000, 7_777, 9_000, 11_000, 20_000]) {
      const { tried, encode } = sizedBy(linear);
      const result = await fitByteBudget(budget, ceiling, encode);
      expect(tried.length, `budget ${budget}`).toBeLessThanOrEqual(MAX_ENCODES);
      expect(new Set(tried).size).toBe(tried.length);
      // Exact on the grid: no quality tried above the answer fits, none below it was needed.
      if (result.fits && result.quality !== ceiling) {
        expect(linear(Math.min(result.quality! + QUALITY_STEP, ceiling))).toBeGreaterThan(budget);
      }
    }
  });

  it('a requested quality at or below the floor is tried alone', async () => {
    const { tried, encode } = sizedBy(linear);
    expect(await fitByteBudget(100, 5, encode)).toMatchObject({ quality: 5, fits: false, encodes: 1 });
    expect(tried).toEqual([5]);
  });

  it('the grid below a quality', () => {
    expect(qualitySteps(80)).toEqual([10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 75]);
    expect(qualitySteps(11)).toEqual([10]);
    expect(qualitySteps(10)).toEqual([]);
    // 1 encode at the ceiling + a binary search of 18 steps (5) for the largest grid.
    expect(1 + Math.ceil(Math.log2(qualitySteps(100).length + 1))).toBeLessThanOrEqual(MAX_ENCODES);
  });
});

describe('the outcome as headers and object metadata', () => {
  it.each([
    [{ fits: true, quality: 55, encodes: 4 }, { 'X-Max-Bytes': 'fits', 'X-Quality': '55' }, { 'max-bytes': 'fits', quality: '55', encodes: '4' }],
    [{ fits: false, quality: 10, encodes: 5 }, { 'X-Max-Bytes': 'exceeded', 'X-Quality': '10' }, { 'max-bytes': 'exceeded', quality: '10', encodes: '5' }],
    [{ fits: true, encodes: 1 }, { 'X-Max-Bytes': 'fits' }, { 'max-bytes': 'fits', encodes: '1' }],
  ])('%j', (outcome, headers, metadata) => {
    expect(budgetHeaders(outcome)).toEqual(headers);
    expect(budgetMetadata(outcome)).toEqual(metadata);
    expect(budgetFromMetadata({ 'source-etag': '"x"', ...metadata })).toEqual(outcome);
  });

  it('adds nothing without a budget', () => {
    expect(budgetHeaders(undefined)).toEqual({});
    expect(budgetMetadata(undefined)).toEqual({});
    expect(budgetFromMetadata(undefined)).toBeUndefined();
    expect(budgetFromMetadata({ spec: 'w=100' })).toBeUndefined();
    expect(budgetFromMetadata({ 'max-bytes': 'maybe' })).toBeUndefined();
  });
});

describe('fitByteBudget with a deadline', () => {
  const slow = (ms: number) => async (quality: number) => {
    await new Promise((resolve) => setTimeout(resolve, ms));
    return Buffer.alloc(linear(quality));
  };

  it('starts no encode it does not expect to finish in time, and answers what it has', async () => {
    // Each encode takes 40 ms or more; the whole search would make 5 (80, 40, 60, 50, 45).
    const result = await fitByteBudget(5_000, 80, slow(40), { deadline: performance.now() + 100 });
    expect(result.encodes).toBeLessThan(5);
    expect(result.data.length).toBe(linear(result.quality!));
    expect(result.fits).toBe(result.data.length <= 5_000);
  });

  it('always makes the first encode, even past the deadline', async () => {
    const result = await fitByteBudget(5_000, 80, slow(1), { deadline: performance.now() - 1 });
    expect(result).toMatchObject({ encodes: 1, quality: 80, fits: false });
  });

  it('a distant deadline changes nothing', async () => {
    const result = await fitByteBudget(5_000, 80, slow(1), { deadline: performance.now() + 60_000 });
    expect(result).toMatchObject({ quality: 40, fits: true });
  });
});
