import { ConfigError, InvalidRequestError } from '../errors.js';
import { parseOperations, type ParamEntry, type ParsedParams } from '../transform/operations.js';

/**
 * Named presets (`?preset=thumb`): a name for a set of parameters, defined in configuration.
 * Explicit parameters in the URL override the preset's (within what the allowlist permits).
 */
export type Presets = ReadonlyMap<string, ParsedParams>;

export const PRESET_PARAM = 'preset';

export const DEFAULT_PRESETS: Readonly<Record<string, string>> = {
  thumb: 'w=160&h=160&fm=auto',
  card: 'w=480&h=320&fm=auto',
  hero: 'w=1600&fm=auto',
};

/** `{"thumb": "w=160&h=160", …}`: each preset is validated with the URL's own rules at cold start. */
export function parsePresets(definitions: Readonly<Record<string, string>>): Presets {
  const presets = new Map<string, ParsedParams>();
  for (const [name, query] of Object.entries(definitions)) {
    if (!/^[a-z0-9][a-z0-9_-]{0,63}$/i.test(name)) {
      throw new ConfigError(`Invalid configuration: PRESETS: "${name}" is not a valid preset name (letters, digits, - and _)`);
    }
    try {
      presets.set(name.toLowerCase(), parseOperations([...new URLSearchParams(query)]));
    } catch (error) {
      throw new ConfigError(`Invalid configuration: PRESETS: preset "${name}": ${(error as Error).message}`);
    }
  }
  return presets;
}

export interface Expanded {
  /** The preset's parameters, before the URL's explicit ones are applied on top. */
  readonly preset?: ParsedParams;
  readonly presetName?: string;
  /** The URL's entries without `preset`. */
  readonly entries: ParamEntry[];
}

export function takePreset(entries: readonly ParamEntry[], presets: Presets): Expanded {
  const named = entries.filter(([n]) => n.toLowerCase() === PRESET_PARAM);
  const rest = entries.filter(([n]) => n.toLowerCase() !== PRESET_PARAM);
  if (named.length === 0) return { entries: rest };
  if (named.length > 1) throw new InvalidRequestError('duplicate_param', 'Parameter "preset" is given more than once.');
  const name = named[0]![1].toLowerCase();
  const preset = presets.get(name);
  if (!preset) {
    const known = [...presets.keys()].join(', ') || 'none are configured';
    throw new InvalidRequestError('invalid_param', `Unknown preset "${named[0]![1].slice(0, 64)}". Available presets: ${known}.`);
  }
  return { preset, presetName: name, entries: rest };
}
