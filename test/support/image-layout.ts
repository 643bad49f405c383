import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { JSONInstruction, ModifiableInstruction, PropertyInstruction, type Dockerfile, type Instruction } from 'dockerfile-ast';

/**
 * What `docker build` would put into the image's filesystem, without a Docker engine: the COPY
 * instructions applied to the build context (filtered by its .dockerignore) under a folder that
 * stands for the image's root, plus the WORKDIR, ENV, USER and ENTRYPOINT a container starts
 * with. Only instructions that need no engine are understood; anything else (RUN, ADD, a
 * multi-stage COPY --from) is refused, so this test is revisited when the Dockerfile grows.
 */

export interface ImageLayout {
  /** Absolute paths inside the image, e.g. /app. */
  readonly workdir: string;
  readonly env: Readonly<Record<string, string>>;
  readonly user: string | undefined;
  readonly entrypoint: readonly string[];
  readonly cmd: readonly string[];
  /** Context-relative paths of what was copied. */
  readonly copied: readonly string[];
}

const IGNORED = new Set(['FROM', 'LABEL', 'ARG', 'EXPOSE', 'STOPSIGNAL', 'HEALTHCHECK']);

/** A .dockerignore pattern as a regular expression: `*` and `?` stay within a path segment, `**` spans segments. */
function globToRegExp(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*' && pattern[i + 1] === '*') {
      const slash = pattern[i + 2] === '/';
      source += slash ? '(?:.*/)?' : '.*';
      i += slash ? 2 : 1;
    } else if (c === '*') source += '[^/]*';
    else if (c === '?') source += '[^/]';
    else source += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

/**
 * Docker's rules: patterns in order, the last one that matches a path or any of its parent
 * folders decides, and `!` lets a path back in.
 */
export function dockerignoreFilter(text: string): (path: string) => boolean {
  const rules = text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const include = line.startsWith('!');
      const pattern = posix.normalize(line.slice(include ? 1 : 0).trim()).replace(/^\/+|\/+$/g, '');
      return { include, regexp: globToRegExp(pattern) };
    });
  return (path) => {
    const parts = path.split('/');
    const candidates = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
    let sent = true;
    for (const rule of rules) {
      if (candidates.some((c) => rule.regexp.test(c))) sent = rule.include;
    }
    return sent;
  };
}

function filesUnder(dir: string, prefix: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const rel = `${prefix}${entry.name}`;
    if (entry.isDirectory()) return filesUnder(join(dir, entry.name), `${rel}/`);
    return entry.isFile() ? [rel] : [];
  });
}

function jsonOrWords(instruction: Instruction): string[] {
  const json = instruction instanceof JSONInstruction ? instruction.getJSONStrings() : [];
  return json.length ? json.map((s) => s.getJSONValue()) : instruction.getArguments().map((a) => a.getValue());
}

const flags = (instruction: Instruction) => (instruction instanceof ModifiableInstruction ? instruction.getFlags().map((f) => f.getName()) : []);

export function layOutImage(dockerfile: Dockerfile, context: string, imageRoot: string): ImageLayout {
  const ignore = existsSync(join(context, '.dockerignore')) ? readFileSync(join(context, '.dockerignore'), 'utf8') : '';
  const sent = dockerignoreFilter(ignore);
  let workdir = '/';
  let user: string | undefined;
  let entrypoint: string[] = [];
  let cmd: string[] = [];
  const env: Record<string, string> = {};
  const copied: string[] = [];

  for (const instruction of dockerfile.getInstructions()) {
    const keyword = instruction.getKeyword();
    const args = jsonOrWords(instruction);
    if (IGNORED.has(keyword)) continue;
    if (keyword === 'WORKDIR') workdir = posix.resolve(workdir, args[0]!);
    else if (keyword === 'USER') user = args[0];
    else if (keyword === 'ENTRYPOINT') entrypoint = args;
    else if (keyword === 'CMD') cmd = args;
    else if (keyword === 'ENV' && instruction instanceof PropertyInstruction) {
      for (const property of instruction.getProperties()) env[property.getName()] = property.getUnescapedValue() ?? '';
    } else if (keyword === 'COPY' && !flags(instruction).includes('from')) {
      const destination = posix.resolve(workdir, args.at(-1)!);
      const intoFolder = args.at(-1)!.endsWith('/') || args.length > 2;
      for (const source of args.slice(0, -1)) {
        if (/[*?[]/.test(source)) throw new Error(`COPY with a wildcard (${source}) is not understood here`);
        const from = posix.normalize(source).replace(/^\/+|\/+$/g, '');
        const path = join(context, from);
        const files = statSync(path).isDirectory()
          ? filesUnder(path, from === '.' ? '' : `${from}/`).map((f) => ({ contextPath: f, target: posix.join(destination, posix.relative(from, f)) }))
          : [{ contextPath: from, target: intoFolder ? posix.join(destination, posix.basename(from)) : destination }];
        for (const { contextPath, target } of files.filter((f) => sent(f.contextPath))) {
          mkdirSync(dirname(join(imageRoot, target)), { recursive: true });
          copyFileSync(join(context, contextPath), join(imageRoot, target));
          copied.push(contextPath);
        }
      }
    } else {
      throw new Error(`${keyword} cannot be reproduced without a Docker engine: extend test/support/image-layout.ts`);
    }
  }
  return { workdir, env, user, entrypoint, cmd, copied };
}
