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
]);
const SAFE_DATA_URI = /^\s*data:image\/(png|jpeg|gif|webp);base64,[a-z0-9+/=\s]*$/i;
const EXTERNAL_URL = /url\(\s*['"]?\s*(?!#)[^)]*\)|@import|expression\s*\(|javascript:/i;
const ATTRIBUTE_PREFIX = '@_';

type XmlNode = Record<string, unknown>;

function localName(name: string): string {
  return name.slice(name.indexOf(':') + 1).toLowerCase();
}

function safeAttribute(name: string, value: unknown): boolean {
  const lower = name.toLowerCase();
  const text = String(value ?? '');
  if (localName(lower).startsWith('on')) return false;
  if (lower === 'xml:base') return false;
  if (localName(lower) === 'href' || lower === 'src') return text.trim().startsWith('#') || SAFE_DATA_URI.test(text);
  return !EXTERNAL_URL.test(text);
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
    // Processing instructions (xml-stylesheet can load external CSS) and DOCTYPEs go.
    if (tag.startsWith('?') || tag.startsWith('!')) continue;
    if (DROPPED_ELEMENTS.has(localName(tag))) continue;
    const children = node[tag] as XmlNode[];
    if (localName(tag) === 'style' && children.some((c) => EXTERNAL_URL.test(String(c['#text'] ?? '')))) continue;
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
