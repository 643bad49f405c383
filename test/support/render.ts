import { describeImage } from '../../scripts/samples.js';
import { renderVariant, type RenderLimits } from '../../src/transform/pipeline.js';
import type { TransformSpec } from '../../src/transform/spec.js';

/** The pipeline's limits at their defaults: what the pipeline tests render with unless a test overrides one. */
export const TEST_LIMITS: RenderLimits = {
  defaultQuality: 80,
  maxInputPixels: 100_000_000,
  maxOutputPixels: 8192 * 8192,
  maxFrames: 300,
  allowSvg: false,
};

export const render = (bytes: Buffer, spec: TransformSpec, overrides: Partial<RenderLimits> = {}) =>
  renderVariant(bytes, spec, { ...TEST_LIMITS, ...overrides });

/** Renders and describes the output (format, size, pages, alpha, colour space, metadata). */
export async function rendered(bytes: Buffer, spec: TransformSpec, overrides: Partial<RenderLimits> = {}) {
  const variant = await render(bytes, spec, overrides);
  return { variant, data: variant.data, image: await describeImage(variant.data) };
}
