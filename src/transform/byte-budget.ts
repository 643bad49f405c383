/**
 * `maxbytes`: the highest quality whose encode fits in the budget, found with a bounded search.
 * The pipeline renders the pixels once (decode, resize, filters) and hands this module an encoder
 * of those pixels, so each attempt costs one encode only. Qualities are tried on a grid of
 * QUALITY_STEP from MIN_QUALITY up: the requested (or default) quality first, since most budgets
 * are generous, then a binary search of the grid below it. With the grid below 100 at 18 steps
 * that is at most 1 + 5 encodes; MAX_ENCODES caps it whatever the constants say. An AVIF encode
 * of a large output can take seconds: given a deadline, the search starts no encode it does not
 * expect to finish by then, and answers what it has (a lower quality that fits, or the smallest).
 *
 * The outcome travels with the variant: in the render result, in the stored object's metadata
 * (so a hit says the same) and in the response headers.
 */

/** The lowest quality the search goes down to: below it, images fall apart rather than shrink. */
export const MIN_QUALITY = 10;
export const QUALITY_STEP = 5;
export const MAX_ENCODES = 6;
/** The share of the processing time limit the search may use, from its start. */
export const SEARCH_TIME_SHARE = 0.5;

/** `fits` or `exceeded`: whether the body is within `maxbytes`. */
export const MAX_BYTES_HEADER = 'X-Max-Bytes';
/** The quality the search settled on. */
export const QUALITY_HEADER = 'X-Quality';

export interface BudgetOutcome {
  /** The answered image is within the budget; when false it is the smallest encode tried. */
  readonly fits: boolean;
  /** Quality of the answered encode; absent for a lossless output (fm=auto answered as PNG). */
  readonly quality?: number;
  /** Encodes made to find it. */
  readonly encodes: number;
}

export interface BudgetResult extends BudgetOutcome {
  readonly data: Buffer;
}

/** The grid below `ceiling`, ascending: MIN_QUALITY, MIN_QUALITY + QUALITY_STEP, … */
export function qualitySteps(ceiling: number): number[] {
  const steps: number[] = [];
  for (let q = MIN_QUALITY; q < ceiling; q += QUALITY_STEP) steps.push(q);
  return steps;
}

/**
 * The largest quality on the grid (or `ceiling` itself) whose encode is at most `maxBytes`, with
 * its bytes; when none fits, the smallest encode made, marked as not fitting.
 */
export async function fitByteBudget(
  maxBytes: number,
  ceiling: number,
  encode: (quality: number) => Promise<Buffer>,
  options: { readonly deadline?: number } = {},
): Promise<BudgetResult> {
  let encodes = 0;
  let slowest = 0;
  const attempt = async (quality: number) => {
    const started = performance.now();
    encodes++;
    const data = await encode(quality);
    slowest = Math.max(slowest, performance.now() - started);
    return { quality, data };
  };
  // The first encode always runs; the next only when the slowest so far would still end in time.
  const inTime = () => options.deadline === undefined || performance.now() + slowest <= options.deadline;
  const first = await attempt(ceiling);
  if (first.data.length <= maxBytes) return { ...first, fits: true, encodes };

  const steps = qualitySteps(ceiling);
  let smallest = first;
  let best: typeof first | undefined;
  let [low, high] = [0, steps.length - 1];
  while (low <= high && encodes < MAX_ENCODES && inTime()) {
    const middle = (low + high) >> 1;
    const tried = await attempt(steps[middle]!);
    if (tried.data.length < smallest.data.length) smallest = tried;
    if (tried.data.length <= maxBytes) {
      best = tried;
      low = middle + 1;
    } else {
      high = middle - 1;
    }
  }
  return best ? { ...best, fits: true, encodes } : { ...smallest, fits: false, encodes };
}

/** A lossless output cannot be searched: it either fits or it does not. */
export function losslessOutcome(bytes: number, maxBytes: number): BudgetOutcome {
  return { fits: bytes <= maxBytes, encodes: 1 };
}

/** Response headers saying what the budget came to. */
export function budgetHeaders(outcome: BudgetOutcome | undefined): Record<string, string> {
  if (!outcome) return {};
  return {
    [MAX_BYTES_HEADER]: outcome.fits ? 'fits' : 'exceeded',
    ...(outcome.quality !== undefined && { [QUALITY_HEADER]: String(outcome.quality) }),
  };
}

/** The same facts as object metadata of the stored variant (S3 lower-cases metadata names). */
export function budgetMetadata(outcome: BudgetOutcome | undefined): Record<string, string> {
  if (!outcome) return {};
  return {
    'max-bytes': outcome.fits ? 'fits' : 'exceeded',
    ...(outcome.quality !== undefined && { quality: String(outcome.quality) }),
    encodes: String(outcome.encodes),
  };
}

/** Reads budgetMetadata back from a stored variant; `undefined` when it had no budget. */
export function budgetFromMetadata(metadata: Readonly<Record<string, string>> | undefined): BudgetOutcome | undefined {
  const verdict = metadata?.['max-bytes'];
  if (verdict !== 'fits' && verdict !== 'exceeded') return undefined;
  const quality = Number(metadata?.quality);
  const encodes = Number(metadata?.encodes);
  return {
    fits: verdict === 'fits',
    ...(Number.isInteger(quality) && quality >= 1 && quality <= 100 && { quality }),
    encodes: Number.isInteger(encodes) && encodes > 0 ? encodes : 0,
  };
}
