import { debounce, el } from './dom.js';
import { GROUPS, type Control, type ParamValues } from './params.js';

/** The parameter form, built from the table in params.ts: values in and out, one change callback. */
export interface ParamForm {
  read(): ParamValues;
  write(values: ParamValues): void;
}

interface Field {
  readonly control: Control;
  /** The parameter's value, `''` for a bare flag; undefined when the parameter is not set. */
  read(): string | undefined;
  write(value: string | undefined): void;
}

const id = (name: string) => `p-${name}`;
const isOn = (value: string | undefined) => value !== undefined && !/^(0|false)$/i.test(value);
const hexColour = (value: string) => {
  const hex = value.replace(/^#/, '').toLowerCase();
  if (/^[0-9a-f]{3}$/.test(hex)) return `#${[...hex].map((c) => c + c).join('')}`;
  return /^[0-9a-f]{6}([0-9a-f]{2})?$/.test(hex) ? `#${hex.slice(0, 6)}` : undefined;
};
const trimmed = (input: HTMLInputElement | HTMLSelectElement) => input.value.trim() || undefined;

function field(control: Control, presets: readonly string[]): { element: HTMLElement; field: Field } {
  const hint = control.hint ? el('p', { class: 'hint', id: `${id(control.name)}-hint` }, control.hint) : undefined;
  const describedBy = hint ? `${id(control.name)}-hint` : undefined;
  const label = () => el('label', { for: id(control.name) }, control.label);
  switch (control.kind) {
    case 'number': {
      const input = el('input', {
        type: 'number',
        id: id(control.name),
        name: control.name,
        min: String(control.min),
        max: String(control.max),
        step: String(control.step),
        inputmode: control.step < 1 ? 'decimal' : 'numeric',
        'aria-describedby': describedBy,
      });
      const slider = control.slider
        ? el('input', { type: 'range', min: '0', max: String(control.slider), step: String(control.step), value: '0', 'aria-label': `${control.label}, slider`, tabindex: '-1' })
        : undefined;
      slider?.addEventListener('input', () => {
        input.value = slider.value === '0' ? '' : slider.value;
        input.dispatchEvent(new Event('input', { bubbles: true }));
      });
      const syncSlider = () => slider && (slider.value = input.value === '' ? '0' : input.value);
      input.addEventListener('input', syncSlider);
      const row = el('div', { class: slider ? 'number-row' : 'single' }, input, slider);
      return {
        element: el('div', { class: slider ? 'field wide' : 'field' }, label(), row, hint),
        field: { control, read: () => trimmed(input), write: (v) => ((input.value = v ?? ''), syncSlider()) },
      };
    }
    case 'select':
    case 'preset': {
      const options: readonly (readonly [string, string])[] =
        control.kind === 'select' ? control.options : [['', presets.length ? 'none' : 'none configured'], ...presets.map((p) => [p, p] as const)];
      const select = el('select', { id: id(control.name), name: control.name, 'aria-describedby': describedBy }, ...options.map(([value, text]) => el('option', { value }, text)));
      if (control.kind === 'preset' && presets.length === 0) select.disabled = true;
      return {
        element: el('div', { class: 'field' }, label(), select, hint),
        field: {
          control,
          read: () => trimmed(select),
          write: (v) => {
            // A value the list does not have (a deep link's typo) is kept, so the API can name it.
            if (v !== undefined && v !== '' && ![...select.options].some((o) => o.value === v)) select.append(el('option', { value: v }, v));
            select.value = v ?? '';
          },
        },
      };
    }
    case 'flag': {
      const box = el('input', { type: 'checkbox', id: id(control.name), name: control.name, 'aria-describedby': describedBy });
      return {
        element: el('div', { class: 'field check' }, box, label(), hint),
        field: { control, read: () => (box.checked ? '' : undefined), write: (v) => (box.checked = isOn(v)) },
      };
    }
    case 'flag-number': {
      const box = el('input', { type: 'checkbox', id: id(control.name), name: control.name });
      const value = el('input', {
        type: 'number',
        id: `${id(control.name)}-value`,
        min: String(control.min),
        max: String(control.max),
        step: String(control.step),
        inputmode: 'decimal',
        placeholder: 'default',
      });
      // Typing a value turns the flag on.
      value.addEventListener('input', () => value.value !== '' && (box.checked = true));
      return {
        element: el(
          'div',
          { class: 'field flag-number' },
          el('div', { class: 'check' }, box, label()),
          el('label', { for: `${id(control.name)}-value`, class: 'sub' }, control.valueLabel),
          value,
          hint,
        ),
        field: {
          control,
          read: () => (box.checked ? value.value.trim() : undefined),
          write: (v) => {
            box.checked = isOn(v);
            value.value = v !== undefined && isOn(v) && v !== '' && !/^(1|true)$/i.test(v) ? v : '';
          },
        },
      };
    }
    case 'color': {
      const text = el('input', {
        type: 'text',
        id: id(control.name),
        name: control.name,
        placeholder: 'e.g. ffe8a0',
        spellcheck: 'false',
        autocomplete: 'off',
        'aria-describedby': describedBy,
      });
      const picker = el('input', { type: 'color', value: '#ffffff', 'aria-label': `${control.label}, colour picker` });
      picker.addEventListener('input', () => {
        text.value = picker.value.slice(1);
        text.dispatchEvent(new Event('input', { bubbles: true }));
      });
      const syncPicker = () => {
        const colour = hexColour(text.value.trim());
        if (colour) picker.value = colour;
      };
      text.addEventListener('input', syncPicker);
      return {
        element: el('div', { class: 'field' }, label(), el('div', { class: 'colour-row' }, text, picker), hint),
        field: { control, read: () => trimmed(text)?.replace(/^#/, ''), write: (v) => ((text.value = v ?? ''), syncPicker()) },
      };
    }
    case 'text': {
      const input = el('input', {
        type: 'text',
        id: id(control.name),
        name: control.name,
        placeholder: control.placeholder,
        spellcheck: 'false',
        autocomplete: 'off',
        'aria-describedby': describedBy,
      });
      return { element: el('div', { class: 'field' }, label(), input, hint), field: { control, read: () => trimmed(input), write: (v) => (input.value = v ?? '') } };
    }
  }
}

/**
 * Builds the form into `container`. `onChange` runs after edits settle (typing, sliders), at once
 * for a choice (select, checkbox).
 */
export function createParamForm(form: HTMLFormElement, container: HTMLElement, presets: readonly string[], onChange: () => void): ParamForm {
  const fields: Field[] = [];
  const groups: { details: HTMLDetailsElement; fields: Field[] }[] = [];
  GROUPS.forEach((group, index) => {
    const built = group.controls.map((c) => field(c, presets));
    const details = el('details', { class: 'group', open: index < 2 }, el('summary', {}, group.title), el('div', { class: 'fields' }, ...built.map((b) => b.element)));
    container.append(details);
    fields.push(...built.map((b) => b.field));
    groups.push({ details, fields: built.map((b) => b.field) });
  });
  const settled = debounce(onChange, 350);
  form.addEventListener('input', (event) => {
    const target = event.target as HTMLInputElement;
    if (target.type === 'checkbox' || target.tagName === 'SELECT') settled.now();
    else settled();
  });
  form.addEventListener('change', (event) => {
    // Selects and checkboxes already answered their input event; this catches a number's spinner.
    const target = event.target as HTMLInputElement;
    if (target.type !== 'checkbox' && target.tagName !== 'SELECT') settled();
  });
  form.addEventListener('submit', (event) => event.preventDefault());
  form.addEventListener('reset', () => setTimeout(settled.now));

  return {
    read() {
      const values = new Map<string, string>();
      for (const f of fields) {
        const value = f.read();
        if (value !== undefined) values.set(f.control.name, value);
      }
      return values;
    },
    write(values) {
      for (const f of fields) f.write(values.get(f.control.name));
      // A group with a value set stays open, so a deep link shows what it sets.
      for (const g of groups) if (g.fields.some((f) => values.has(f.control.name))) g.details.open = true;
    },
  };
}
