/**
 * The URL API's parameters as the page's controls: one entry per parameter of
 * src/transform/operations.ts (same names, aliases and order; test/playground checks them against
 * it), plus `preset`. The form is built from this table, and the query is read and written
 * through it, so a parameter is added here once.
 */

export type Option = readonly [value: string, label: string];

interface Base {
  readonly name: string;
  readonly aliases?: readonly string[];
  readonly label: string;
  /** Shown under the control. */
  readonly hint?: string;
}

export type Control =
  /** A number; `slider`: with a range input from 0 (unset) to this value. */
  | (Base & { readonly kind: 'number'; readonly min: number; readonly max: number; readonly step: number; readonly slider?: number })
  | (Base & { readonly kind: 'select'; readonly options: readonly Option[] })
  /** Presets come from the server's configuration. */
  | (Base & { readonly kind: 'preset' })
  | (Base & { readonly kind: 'flag' })
  /** A flag that may carry a number (`sharpen`, `sharpen=2`). */
  | (Base & { readonly kind: 'flag-number'; readonly min: number; readonly max: number; readonly step: number; readonly valueLabel: string })
  /** Hex without `#`, with a colour picker beside it. */
  | (Base & { readonly kind: 'color' })
  | (Base & { readonly kind: 'text'; readonly placeholder: string });

export interface Group {
  readonly title: string;
  readonly controls: readonly Control[];
}

const GRAVITIES: readonly Option[] = ['center', 'top', 'right top', 'right', 'right bottom', 'bottom', 'left bottom', 'left', 'left top'].map(
  (g) => [g, g] as const,
);
const unset = (label = 'default'): Option => ['', label];

export const GROUPS: readonly Group[] = [
  {
    title: 'Size',
    controls: [
      { name: 'preset', kind: 'preset', label: 'Preset', hint: 'A configured set of parameters; the others override it.' },
      { name: 'w', aliases: ['width'], kind: 'number', label: 'Width (w)', min: 1, max: 8192, step: 1, slider: 4000 },
      { name: 'h', aliases: ['height'], kind: 'number', label: 'Height (h)', min: 1, max: 8192, step: 1, slider: 4000 },
      {
        name: 'fit',
        kind: 'select',
        label: 'Fit',
        hint: 'Default: cover with w and h, else inside.',
        options: [unset(), ...['cover', 'contain', 'fill', 'inside', 'outside'].map((f) => [f, f] as const)],
      },
      {
        name: 'pos',
        aliases: ['position', 'crop', 'gravity'],
        kind: 'select',
        label: 'Position (pos)',
        options: [unset('default (center)'), ...GRAVITIES, ['attention', 'attention (smart crop)'], ['entropy', 'entropy (smart crop)']],
      },
    ],
  },
  {
    title: 'Format',
    controls: [
      {
        name: 'fm',
        aliases: ['format', 'f'],
        kind: 'select',
        label: 'Format (fm)',
        options: [
          unset('the source format'),
          ['jpeg', 'jpeg'],
          ['png', 'png'],
          ['webp', 'webp'],
          ['avif', 'avif'],
          ['gif', 'gif'],
          ['auto', 'auto (by Accept)'],
          ['json', 'json (a description)'],
        ],
      },
      { name: 'q', aliases: ['quality'], kind: 'number', label: 'Quality (q)', min: 1, max: 100, step: 1, slider: 100 },
      { name: 'dpr', kind: 'number', label: 'Device pixel ratio (dpr)', min: 1, max: 4, step: 0.5 },
    ],
  },
  {
    title: 'Effects',
    controls: [
      { name: 'bg', aliases: ['background'], kind: 'color', label: 'Background (bg)', hint: 'Hex: fff, ffe8a0 or ffffff80.' },
      { name: 'blur', kind: 'number', label: 'Blur sigma', min: 0.3, max: 100, step: 0.1 },
      { name: 'sharpen', kind: 'flag-number', label: 'Sharpen', valueLabel: 'Sharpen sigma', min: 0.01, max: 10, step: 0.01 },
      { name: 'gray', aliases: ['grey', 'grayscale', 'greyscale'], kind: 'flag', label: 'Grayscale (gray)' },
      {
        name: 'rot',
        aliases: ['rotate', 'or'],
        kind: 'select',
        label: 'Rotate (rot)',
        options: [unset('none'), ['90', '90°'], ['180', '180°'], ['270', '270°']],
      },
      { name: 'flip', kind: 'flag', label: 'Flip (vertical mirror)' },
      { name: 'flop', kind: 'flag', label: 'Flop (horizontal mirror)' },
      { name: 'enlarge', aliases: ['upscale'], kind: 'flag', label: 'Enlarge beyond the original' },
    ],
  },
  {
    title: 'Crop and frame',
    controls: [
      { name: 'rect', aliases: ['crop-rect'], kind: 'text', label: 'Region (rect)', placeholder: 'x,y,w,h e.g. 100,50,800,600' },
      { name: 'fp', aliases: ['focalpoint', 'focal'], kind: 'text', label: 'Focal point (fp)', placeholder: 'x,y in 0–1 e.g. 0.3,0.6' },
      { name: 'ar', aliases: ['aspect-ratio'], kind: 'text', label: 'Aspect ratio (ar)', placeholder: 'W:H e.g. 16:9' },
      { name: 'trim', kind: 'flag-number', label: 'Trim uniform border', valueLabel: 'Trim threshold', min: 1, max: 100, step: 1 },
      { name: 'pad', aliases: ['padding'], kind: 'text', label: 'Padding (pad)', placeholder: 'N or top,right,bottom,left' },
    ],
  },
  {
    title: 'Output',
    controls: [
      { name: 'maxbytes', aliases: ['max-bytes'], kind: 'number', label: 'Byte budget (maxbytes)', min: 1024, max: 52428800, step: 1024 },
      { name: 'meta', aliases: ['metadata'], kind: 'select', label: 'Metadata (meta)', options: [unset('none (stripped)'), ['copyright', 'copyright']] },
    ],
  },
  {
    title: 'Watermark',
    controls: [
      { name: 'mark', aliases: ['watermark'], kind: 'text', label: 'Watermark (mark)', placeholder: 'a name under watermarks/, e.g. logo.png' },
      { name: 'markpos', aliases: ['mark-pos'], kind: 'select', label: 'Watermark position', options: [unset('default (right bottom)'), ...GRAVITIES] },
      { name: 'markscale', aliases: ['mark-scale'], kind: 'number', label: 'Watermark scale', min: 0.01, max: 1, step: 0.01 },
      { name: 'markalpha', aliases: ['mark-alpha'], kind: 'number', label: 'Watermark opacity', min: 0, max: 100, step: 1, slider: 100 },
      { name: 'markpad', aliases: ['mark-pad'], kind: 'number', label: 'Watermark padding', min: 0, max: 1000, step: 1 },
    ],
  },
];

export const CONTROLS: readonly Control[] = GROUPS.flatMap((g) => g.controls);

/** A parameter's value: `''` for a bare flag (`?gray`); absent parameters are not in the map. */
export type ParamValues = ReadonlyMap<string, string>;

/** The values the query gives the table's parameters (by name or alias); anything else is ignored. */
export function readParams(query: URLSearchParams): ParamValues {
  const values = new Map<string, string>();
  for (const control of CONTROLS) {
    for (const name of [control.name, ...(control.aliases ?? [])]) {
      const value = query.get(name);
      if (value !== null && !values.has(control.name)) values.set(control.name, value);
    }
  }
  return values;
}

// Commas, colons and spaces as `%20` read better than fully encoded, and mean the same.
const encodeValue = (value: string) => encodeURIComponent(value).replace(/%2C/gi, ',').replace(/%3A/gi, ':');

/** `w=400&fm=webp&gray`: in the table's order, bare flags without `=`. */
export function formatParams(values: ParamValues): string {
  return CONTROLS.filter((c) => values.has(c.name))
    .map((c) => {
      const value = values.get(c.name)!;
      return value === '' ? c.name : `${c.name}=${encodeValue(value)}`;
    })
    .join('&');
}

/** A key as a URL path: each segment percent-encoded, the slashes kept. */
export const keyPath = (key: string) => `/${key.split('/').map(encodeURIComponent).join('/')}`;

/** The image API's URL of `key` with these parameters. */
export function imagePath(key: string, values: ParamValues): string {
  const query = formatParams(values);
  return query === '' ? keyPath(key) : `${keyPath(key)}?${query}`;
}

/** The page's own query: the key first (slashes readable), then the parameters. */
export function pageQuery(key: string | undefined, values: ParamValues): string {
  const parts = [key === undefined ? '' : `key=${encodeValue(key).replace(/%2F/gi, '/')}`, formatParams(values)].filter(Boolean);
  return parts.join('&');
}
