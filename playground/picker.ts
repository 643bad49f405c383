import { getJson } from './api.js';
import { debounce, el, formatBytes } from './dom.js';

/**
 * The originals list: pages of `/_playground/api/originals`. The search text up to its last `/`
 * is a prefix (listed at S3); the rest must appear somewhere in the key.
 */

interface OriginalsPage {
  readonly items: readonly { readonly key: string; readonly size: number }[];
  readonly next?: string;
  readonly scanned: number;
}

export interface PickerElements {
  readonly search: HTMLInputElement;
  readonly list: HTMLUListElement;
  readonly status: HTMLElement;
  readonly more: HTMLButtonElement;
}

export interface Picker {
  /** Marks this key as the one shown. */
  select(key: string | undefined): void;
  /** The listed size of a key, when it is in the list. */
  sizeOf(key: string): number | undefined;
}

export function createPicker({ search, list, status, more }: PickerElements, onPick: (key: string) => void): Picker {
  let next: string | undefined;
  let selected: string | undefined;
  let generation = 0;
  const sizes = new Map<string, number>();

  const query = () => {
    const text = search.value;
    const slash = text.lastIndexOf('/');
    return { prefix: text.slice(0, slash + 1), q: text.slice(slash + 1) };
  };

  async function load(fresh: boolean) {
    const mine = fresh ? ++generation : generation;
    if (fresh) next = undefined;
    const { prefix, q } = query();
    const params = new URLSearchParams({ prefix, q });
    if (next !== undefined) params.set('after', next);
    status.textContent = 'Loading…';
    more.disabled = true;
    try {
      const page = await getJson<OriginalsPage>(`/_playground/api/originals?${params}`);
      if (mine !== generation) return;
      if (fresh) list.replaceChildren();
      for (const item of page.items) {
        sizes.set(item.key, item.size);
        const button = el(
          'button',
          { type: 'button', class: 'original', 'data-key': item.key, 'aria-current': item.key === selected ? 'true' : undefined },
          el('span', { class: 'original-key' }, item.key),
          el('span', { class: 'original-size' }, formatBytes(item.size)),
        );
        button.addEventListener('click', () => onPick(item.key));
        list.append(el('li', {}, button));
      }
      next = page.next;
      const shown = list.children.length;
      status.textContent = shown === 0 ? (next ? 'No match yet: more keys to look through.' : 'No originals match.') : `${shown} original${shown === 1 ? '' : 's'}${next ? ', more below' : ''}`;
      more.hidden = next === undefined;
    } catch (error) {
      if (mine === generation) status.textContent = `The list could not be loaded: ${(error as Error).message}`;
    } finally {
      more.disabled = false;
    }
  }

  search.addEventListener('input', debounce(() => void load(true), 250));
  more.addEventListener('click', () => void load(false));
  void load(true);

  return {
    select(key) {
      selected = key;
      for (const button of list.querySelectorAll<HTMLButtonElement>('button.original')) {
        if (button.dataset.key === key) button.setAttribute('aria-current', 'true');
        else button.removeAttribute('aria-current');
      }
    },
    sizeOf: (key) => sizes.get(key),
  };
}
