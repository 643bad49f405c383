import { ApiFailure, fetchImage, getJson, signed, type ApiError, type Fetched, type PlaygroundConfig } from './api.js';
import { byId, formatBytes } from './dom.js';
import { createParamForm } from './form.js';
import { imagePath, pageQuery, readParams, type ParamValues } from './params.js';
import { createPicker } from './picker.js';

/**
 * The playground page: pick an original, set parameters, see the original and the result side by
 * side with the result's figures. The page's own query holds the key and the parameters
 * (`/_playground?key=photos/a.jpg&w=400`): opening such a link shows that result at once, and
 * every change rewrites it (history.replaceState).
 */

// The original is shown through the API too (HEIC, TIFF, … become something a browser shows), at
// most this wide; its figures are the original's own, from fm=json.
const PREVIEW_WIDTH = '1200';

interface OriginalInfo {
  readonly width: number;
  readonly height: number;
  readonly format: string;
  readonly bytes: number;
}

const $ = {
  signingNote: byId('signing-note', HTMLElement),
  form: byId('params', HTMLFormElement),
  groups: byId('groups', HTMLElement),
  url: byId('result-url', HTMLInputElement),
  copy: byId('copy-url', HTMLButtonElement),
  rerun: byId('rerun', HTMLButtonElement),
  copyStatus: byId('copy-status', HTMLElement),
  open: byId('open-url', HTMLAnchorElement),
  error: byId('result-error', HTMLElement),
  empty: byId('empty', HTMLElement),
  originalKey: byId('original-key', HTMLElement),
  originalFormat: byId('original-format', HTMLElement),
  originalDimensions: byId('original-dimensions', HTMLElement),
  originalBytes: byId('original-bytes', HTMLElement),
  originalImage: byId('original-image', HTMLImageElement),
  originalError: byId('original-error', HTMLElement),
  resultState: byId('result-state', HTMLElement),
  resultCard: byId('result-card', HTMLElement),
  format: byId('result-format', HTMLElement),
  dimensions: byId('result-dimensions', HTMLElement),
  bytes: byId('result-bytes', HTMLElement),
  saving: byId('result-saving', HTMLElement),
  ttfb: byId('result-ttfb', HTMLElement),
  cache: byId('result-cache', HTMLElement),
  timing: byId('result-timing', HTMLElement),
  budgetRow: byId('result-budget-row', HTMLElement),
  budget: byId('result-budget', HTMLElement),
  image: byId('result-image', HTMLImageElement),
  json: byId('result-json', HTMLPreElement),
};

const describe = (error: unknown): ApiError =>
  error instanceof ApiFailure ? error.error : { status: 0, code: 'network_error', message: (error as Error).message || 'The request failed.' };

/** Shows a blob in an image, releasing the one it showed before; resolves once decoded. */
async function showBlob(image: HTMLImageElement, blob: Blob): Promise<void> {
  if (image.src.startsWith('blob:')) URL.revokeObjectURL(image.src);
  image.src = URL.createObjectURL(blob);
  image.hidden = false;
  await image.decode();
}

function clearImage(image: HTMLImageElement) {
  if (image.src.startsWith('blob:')) URL.revokeObjectURL(image.src);
  image.removeAttribute('src');
  image.hidden = true;
}

/** `s3-read;dur=3.1, transform;dur=80.2` → `s3-read 3 ms · transform 80 ms`. */
function serverTiming(header: string | null): string {
  if (!header) return '–';
  return header
    .split(',')
    .map((part) => {
      const [name, ...params] = part.trim().split(';');
      const duration = params.map((p) => p.trim()).find((p) => p.startsWith('dur='));
      return duration ? `${name} ${Math.round(Number(duration.slice(4)))} ms` : name;
    })
    .join(' · ');
}

const formatOf = (contentType: string | null) => (contentType ?? '').split(';')[0]!.replace(/^image\//, '').replace(/^application\//, '') || 'unknown';

async function main() {
  const config = await getJson<PlaygroundConfig>('/_playground/api/config');
  $.signingNote.hidden = !config.signing;
  const initial = new URLSearchParams(location.search);
  let key = initial.get('key') || undefined;
  const form = createParamForm($.form, $.groups, config.presets, () => void update());
  form.write(readParams(initial));

  let originalFor: string | undefined;
  let originalInfo: Promise<OriginalInfo | undefined> = Promise.resolve(undefined);
  let controller: AbortController | undefined;
  // The key and image path last requested: the same again is only requested when asked for.
  let requested: string | undefined;

  const picker = createPicker(
    {
      search: byId('search', HTMLInputElement),
      list: byId('originals', HTMLUListElement),
      status: byId('originals-status', HTMLElement),
      more: byId('originals-more', HTMLButtonElement),
    },
    (picked) => {
      key = picked;
      update();
    },
  );

  function showError(error: ApiError | undefined) {
    $.error.hidden = error === undefined;
    $.error.replaceChildren();
    if (!error) return;
    const title = document.createElement('strong');
    title.textContent = `${error.status || 'Network'} ${error.code}`;
    const message = document.createElement('span');
    message.textContent = error.message;
    $.error.append(title, ' ', message);
  }

  function clearResult() {
    for (const dd of [$.format, $.dimensions, $.bytes, $.saving, $.ttfb, $.cache, $.timing, $.budget]) dd.textContent = '–';
    $.bytes.removeAttribute('data-bytes');
    $.budgetRow.hidden = true;
    $.json.hidden = true;
    clearImage($.image);
  }

  /** The original's figures and preview, once per key. */
  function loadOriginal(current: string, infoUrl: string, previewUrl: string) {
    originalFor = current;
    $.originalKey.textContent = current;
    for (const dd of [$.originalFormat, $.originalDimensions, $.originalBytes]) dd.textContent = '…';
    $.originalError.hidden = true;
    clearImage($.originalImage);
    const signal = AbortSignal.timeout(60_000);
    // The original's own figures do not depend on w: a small output keeps fm=json cheap.
    originalInfo = getJson<OriginalInfo>(infoUrl, signal)
      .then((info) => {
        if (typeof info?.width !== 'number' || typeof info.bytes !== 'number') throw new Error('fm=json answered without the original\'s figures');
        return info;
      })
      .then(
        (info) => {
          if (originalFor !== current) return info;
          $.originalFormat.textContent = info.format;
          $.originalDimensions.textContent = `${info.width} × ${info.height}`;
          $.originalBytes.textContent = `${formatBytes(info.bytes)} (${info.bytes.toLocaleString('en')} bytes)`;
          return info;
        },
        () => {
          const listed = picker.sizeOf(current);
          if (originalFor === current) {
            $.originalFormat.textContent = '–';
            $.originalDimensions.textContent = '–';
            $.originalBytes.textContent = listed === undefined ? '–' : formatBytes(listed);
          }
          return listed === undefined ? undefined : { width: 0, height: 0, format: '', bytes: listed };
        },
      );
    fetchImage(previewUrl, signal)
      .then((preview) => (originalFor === current ? showBlob($.originalImage, preview.blob) : undefined))
      .catch((error: unknown) => {
        if (originalFor !== current) return;
        const { status, code, message } = describe(error);
        $.originalError.textContent = `${status || 'Network'} ${code}: ${message}`;
        $.originalError.hidden = false;
      });
  }

  async function showResult(fetched: Fetched, signal: AbortSignal) {
    const contentType = fetched.headers.get('content-type');
    const format = formatOf(contentType);
    $.format.textContent = format;
    $.bytes.textContent = `${formatBytes(fetched.blob.size)} (${fetched.blob.size.toLocaleString('en')} bytes)`;
    $.bytes.dataset.bytes = String(fetched.blob.size);
    $.ttfb.textContent = `${Math.round(fetched.ttfb)} ms`;
    $.cache.textContent = fetched.headers.get('x-cache') ?? '–';
    $.timing.textContent = serverTiming(fetched.headers.get('server-timing'));
    const budget = fetched.headers.get('x-max-bytes');
    $.budgetRow.hidden = budget === null;
    $.budget.textContent = budget === null ? '–' : `${budget}, quality ${fetched.headers.get('x-quality') ?? '?'}`;
    if (format === 'json') {
      const description = JSON.parse(await fetched.blob.text()) as { output?: { width: number; height: number; format: string } };
      clearImage($.image);
      $.json.textContent = JSON.stringify(description, null, 2);
      $.json.hidden = false;
      if (description.output) $.dimensions.textContent = `${description.output.width} × ${description.output.height} (${description.output.format})`;
    } else {
      $.json.hidden = true;
      await showBlob($.image, fetched.blob);
      $.dimensions.textContent = `${$.image.naturalWidth} × ${$.image.naturalHeight}`;
    }
    const original = await originalInfo;
    if (original && original.bytes > 0 && !signal.aborted) {
      const ratio = fetched.blob.size / original.bytes;
      // One decimal where whole percents would round to 100 % smaller.
      const percent = (p: number) => (p >= 99 && p < 100 ? p.toFixed(1) : String(Math.round(p)));
      $.saving.textContent = ratio <= 1 ? `${percent((1 - ratio) * 100)} % smaller` : `${percent((ratio - 1) * 100)} % larger`;
    }
  }

  /** Rewrites the page's URL and shows the result for the current key and parameters. */
  async function update(again = false) {
    const values: ParamValues = form.read();
    const query = pageQuery(key, values);
    history.replaceState(null, '', `${location.pathname}${query ? `?${query}` : ''}`);
    picker.select(key);
    if (key === undefined) return;
    const current = key;
    const path = imagePath(current, values);
    if (path === requested && !again) return;
    requested = path;
    controller?.abort();
    const mine = (controller = new AbortController());
    const signal = mine.signal;
    $.empty.hidden = true;
    $.resultState.textContent = 'loading…';
    $.resultCard.setAttribute('aria-busy', 'true');
    try {
      const [resultUrl, infoUrl, previewUrl] = await signed(
        config,
        [path, imagePath(current, new Map([['fm', 'json'], ['w', '64']])), imagePath(current, new Map([['w', PREVIEW_WIDTH]]))],
        signal,
      );
      $.url.value = new URL(resultUrl!, location.href).href;
      $.open.href = resultUrl!;
      if (originalFor !== current) loadOriginal(current, infoUrl!, previewUrl!);
      const fetched = await fetchImage(resultUrl!, signal);
      if (signal.aborted) return;
      showError(undefined);
      await showResult(fetched, signal);
    } catch (error) {
      if (signal.aborted) return;
      clearResult();
      showError(describe(error));
    } finally {
      if (controller === mine) {
        $.resultState.textContent = '';
        $.resultCard.removeAttribute('aria-busy');
      }
    }
  }

  $.rerun.addEventListener('click', () => void update(true));
  $.copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText($.url.value);
    } catch {
      $.url.select();
      document.execCommand('copy');
    }
    $.copyStatus.textContent = 'Copied.';
    setTimeout(() => ($.copyStatus.textContent = ''), 2000);
  });

  if (key !== undefined) void update();
}

main().catch((error: unknown) => {
  const box = document.getElementById('result-error');
  if (box) {
    box.hidden = false;
    box.textContent = `The playground could not start: ${(error as Error).message}`;
  }
});
