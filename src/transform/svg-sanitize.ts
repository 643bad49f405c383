import { XMLBuilder, XMLParser } from 'fast-xml-parser';
import { UndecodableImageError } from '../errors.js';

/**
 * Makes an SVG safe to rasterise: scripts, event handlers, animation (which can rewrite links),
 * embedded HTML and every reference outside the document are removed before librsvg sees it, so
 * rendering never fetches or reads anything. Only in-document references (`#id`) and inline
 * raster data URIs survive. Entities are not expanded (no entity-expansion bombs).
 */

const DROPPED_ELEMENTS = new Set([
  'script',
  'foreignobject',
  'iframe',
  'embed',
  'object',
  'audio',
  'video',
  'canvas',
  'handler',
  'listener',
  'animate',
  'animatemotion',
  'animatetransform',
  'animatecolor',
  'set',
  'discard',
  // XInclude: librsvg can splice in another file's text or markup.
  'include',
]);
const SAFE_DATA_URI = /^\s*data:image\/(png|jpeg|gif|webp);base64,[a-z0-9+/=\s]*$/i;
// `url(` whose target is not `#id`. The `(?=(x))\1` groups match atomically: with plain `\s*`
// runs, `url(` and a few thousand spaces took seconds of backtracking (a blocked event loop
// that no timeout can interrupt).
const EXTERNAL_URL =
  /url\((?=(\s*))\1(?=(['"]?))\2(?=(\s*))\3(?!#)|@import|expression\s*\(|javascript:|\b(?:src|image|image-set|-webkit-image-set)\s*\(/i;
const ATTRIBUTE_PREFIX = '@_';

type XmlNode = Record<string, unknown>;

/**
 * The text as the renderer will read it. Entities are kept in the output (never expanded here),
 * so every check must see through them (`u&#114;l(` is `url(` to libxml2), and through CSS
 * escapes (`\75rl(` is `url(` to a CSS parser).
 */
function asRendered(text: string): string {
  const xml = text.replace(/&(#x[0-9a-f]+|#\d+|lt|gt|amp|quot|apos);/gi, (whole, ref: string) => {
    const lower = ref.toLowerCase();
    const named: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };
    if (lower in named) return named[lower]!;
    const code = lower.startsWith('#x') ? parseInt(lower.slice(2), 16) : parseInt(lower.slice(1), 10);
    return code <= 0x10ffff ? String.fromCodePoint(code) : whole;
  });
  return xml.replace(/\\(?:([0-9a-f]{1,6})[ \t\n\r\f]?|(\r\n|[\s\S]))/gi, (_whole, hex: string | undefined, char: string) => {
    if (hex === undefined) return /^[\r\n\f]/.test(char) ? '' : char;
    const code = parseInt(hex, 16);
    return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : '\uFFFD';
  });
}

const escapeText = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function localName(name: string): string {
  return name.slice(name.indexOf(':') + 1).toLowerCase();
}

function safeAttribute(name: string, value: unknown): boolean {
  const lower = name.toLowerCase();
  const text = asRendered(String(value ?? ''));
  if (localName(lower).startsWith('on')) return false;
  if (lower === 'xml:base') return false;
  if (localName(lower) === 'href' || lower === 'src') return text.trim().startsWith('#') || SAFE_DATA_URI.test(text);
  return !EXTERNAL_URL.test(text);
}

/** The text of a style element, CDATA sections included. */
function styleText(children: XmlNode[]): string {
  return children
    .map((c) => (c['#cdata'] ? escapeText(styleText(c['#cdata'] as XmlNode[])) : String(c['#text'] ?? '')))
    .join('');
}

function cleanNodes(nodes: XmlNode[]): XmlNode[] {
  const kept: XmlNode[] = [];
  for (const node of nodes) {
    const tag = Object.keys(node).find((k) => k !== ':@');
    if (tag === undefined) continue;
    if (tag === '#text') {
      kept.push(node);
      continue;
    }
    if (tag === '#cdata') {
      // Written back as escaped text: passed through, `<![CDATA[<image href=…>]]>` would come
      // out of the builder as live markup.
      const text = (node[tag] as XmlNode[]).map((c) => String(c['#text'] ?? '')).join('');
      kept.push({ '#text': escapeText(text) });
      continue;
    }
    // Processing instructions (xml-stylesheet can load external CSS) and DOCTYPEs go.
    if (tag.startsWith('?') || tag.startsWith('!')) continue;
    if (DROPPED_ELEMENTS.has(localName(tag))) continue;
    const children = node[tag] as XmlNode[];
    if (localName(tag) === 'style' && EXTERNAL_URL.test(asRendered(styleText(children)))) continue;
    const attributes = (node[':@'] ?? {}) as Record<string, unknown>;
    const safe = Object.fromEntries(
      Object.entries(attributes).filter(([name, value]) => safeAttribute(name.slice(ATTRIBUTE_PREFIX.length), value)),
    );
    kept.push({ [tag]: cleanNodes(children), ...(Object.keys(safe).length ? { ':@': safe } : {}) });
  }
  return kept;
}

const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: ATTRIBUTE_PREFIX,
  processEntities: false,
  htmlEntities: false,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
  commentPropName: false,
  cdataPropName: '#cdata',
});
const builder = new XMLBuilder({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: ATTRIBUTE_PREFIX,
  processEntities: false,
  suppressEmptyNode: true,
});

export function sanitizeSvg(bytes: Buffer): Buffer {
  let tree: XmlNode[];
  try {
    tree = parser.parse(bytes.toString('utf8')) as XmlNode[];
  } catch (error) {
    throw new UndecodableImageError('The SVG original is not well-formed XML.', error);
  }
  const cleaned = cleanNodes(tree);
  if (!cleaned.some((n) => Object.keys(n).some((k) => localName(k) === 'svg'))) {
    throw new UndecodableImageError('The SVG original has no <svg> root element.');
  }
  return Buffer.from(builder.build(cleaned) as string, 'utf8');
}
