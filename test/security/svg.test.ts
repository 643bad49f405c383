import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeImage, encodeAs, meanColour } from '../../scripts/samples.js';
import type { HttpResponse } from '../../src/http/response.js';
import { sanitizeSvg } from '../../src/transform/svg-sanitize.js';
import { bodyBytes, event, startStack, uniqueKey, type App, type Stack } from '../support/stack.js';

const NS = 'xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"';
const svg = (body: string, attrs = 'width="40" height="40"') => `<svg ${NS} ${attrs}>${body}</svg>`;

/** A 1×1 PNG as a data URI: inline raster data is the one kind of image reference kept. */
const PIXEL =
  'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==';

/**
 * What in an SVG could still run or reach outside the document, read the way a renderer reads
 * it: character references and CSS escapes resolved, namespace declarations left out, and text
 * outside style elements ignored (text is drawn, never followed).
 */
function dangers(text: string): string[] {
  const decoded = text
    .replace(/&#x([0-9a-f]+);/gi, (_m, hex: string) => String.fromCodePoint(parseInt(hex, 16)))
    .replace(/&#(\d+);/g, (_m, dec: string) => String.fromCodePoint(Number(dec)))
    .replace(/\\([0-9a-f]{1,6})\s?/gi, (_m, hex: string) => String.fromCodePoint(parseInt(hex, 16)))
    .replace(/\\(.)/g, '$1')
    .replace(/\sxmlns(:\w+)?="[^"]*"/g, '');
  const styles = [...decoded.matchAll(/<(?:\w+:)?style\b[^>]*>([\s\S]*?)<\/(?:\w+:)?style>/gi)].map((m) => m[1]).join('\n');
  const markup = `${decoded.replace(/>[^<]*</g, '><')}\n${styles}`;
  const patterns: [string, RegExp][] = [
    ['a link to another document', /\b(?:href|src)\s*=\s*"(?!\s*#|\s*data:image\/(?:png|jpeg|gif|webp);base64,)/i],
    ['a data URI that is not a raster image', /data:(?!image\/(?:png|jpeg|gif|webp);base64,)/i],
    ['url() to anything but #id', /url\(\s*['"]?\s*(?!#)/i],
    ['@import', /@import/i],
    ['javascript:', /javascript:/i],
    ['a script', /<(\w+:)?script/i],
    ['an event handler', /\son\w+\s*=/i],
    ['foreignObject', /<(\w+:)?foreignObject/i],
    ['animation', /<(\w+:)?(set|animate\w*|discard)\b/i],
    ['a processing instruction', /<\?/],
    ['a DOCTYPE or entity declaration', /<!(DOCTYPE|ENTITY)/i],
    ['xml:base', /xml:base/i],
    ['XInclude', /<(\w+:)?include\b/i],
    ['an embedded document', /<(\w+:)?(iframe|embed|object)\b/i],
    ['CDATA', /<!\[CDATA\[/],
  ];
  return patterns.filter(([, pattern]) => pattern.test(markup)).map(([name]) => name);
}

const clean = (input: string) => sanitizeSvg(Buffer.from(input)).toString('utf8');

describe('sanitizeSvg', () => {
  const X = 'http://127.0.0.1:9/x';
  it.each([
    ['a script element', svg(`<script>fetch('${X}')</script><rect width="4" height="4"/>`)],
    ['a prefixed script element', `<svg:svg xmlns:svg="http://www.w3.org/2000/svg"><svg:script>alert(1)</svg:script></svg:svg>`],
    ['an onload handler on the root', `<svg ${NS} onload="fetch('${X}')"><rect/></svg>`],
    ['event handlers on shapes', svg(`<rect onclick="alert(1)" onmouseover="alert(2)" ONFOCUSIN="x()"/>`)],
    ['foreignObject with HTML', svg(`<foreignObject><iframe xmlns="http://www.w3.org/1999/xhtml" src="${X}"/></foreignObject>`)],
    ['animate rewriting a link', svg(`<a href="#a"><animate attributeName="href" to="javascript:alert(1)"/></a>`)],
    ['set rewriting a link', svg(`<image href="#a"><set attributeName="href" to="${X}"/></image>`)],
    ['animateTransform and animateMotion', svg(`<rect><animateTransform attributeName="transform"/><animateMotion path="M0 0"/></rect>`)],
    ['image href to http', svg(`<image width="10" height="10" href="${X}.png"/>`)],
    ['image xlink:href to http', svg(`<image width="10" height="10" xlink:href="${X}.png"/>`)],
    ['image href to file:', svg(`<image width="10" height="10" href="file:///etc/passwd"/>`)],
    ['a protocol-relative href', svg(`<image width="10" height="10" href="//127.0.0.1:9/x.png"/>`)],
    ['a relative href', svg(`<image width="10" height="10" href="../../etc/passwd"/>`)],
    ['href with leading spaces', svg(`<image width="10" height="10" href="   ${X}.png"/>`)],
    ['an SVG data URI (which could hold its own references)', svg(`<image href="data:image/svg+xml;base64,PHN2Zy8+"/>`)],
    ['javascript: in a link', svg(`<a xlink:href="javascript:alert(1)"><rect/></a>`)],
    ['use of an external sprite', svg(`<use href="${X}/sprite.svg#icon"/>`)],
    ['feImage of a local file', svg(`<filter id="f"><feImage href="file:///etc/passwd"/></filter>`)],
    ['href under another prefix bound to XLink', `<svg xmlns="http://www.w3.org/2000/svg" xmlns:l="http://www.w3.org/1999/xlink"><image l:href="${X}"/></svg>`],
    ['a style element importing CSS', svg(`<style>@import url(${X}.css); rect { fill: red }</style><rect/>`)],
    ['a style element importing a quoted URL', svg(`<style>@import "${X}.css";</style><rect/>`)],
    ['a style element with url()', svg(`<style>rect { fill: url(${X}.svg#p) }</style><rect/>`)],
    ['a style element in CDATA', svg(`<style><![CDATA[ @import url(${X}.css); ]]></style><rect/>`)],
    ['a style attribute with url()', svg(`<rect style="fill: url('${X}#p')"/>`)],
    ['presentation attributes with url()', svg(`<rect fill="url(${X}#p)" filter="url(file:///etc/passwd#f)" mask="url( ${X} )"/>`)],
    ['an xml-stylesheet processing instruction', `<?xml version="1.0"?><?xml-stylesheet type="text/css" href="${X}.css"?>${svg('<rect/>')}`],
    ['an external DOCTYPE', `<?xml version="1.0"?><!DOCTYPE svg SYSTEM "${X}.dtd">${svg('<text>x</text>')}`],
    ['an internal entity', `<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY u "${X}">]>${svg('<image href="&u;"/>')}`],
    ['xml:base', `<svg ${NS} xml:base="${X}/"><image href="#a"/></svg>`],
    ['XInclude of a file', svg(`<text><xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="file:///etc/passwd" parse="text"/></text>`)],
    ['iframe, embed, object, HTML link', svg(`<iframe src="${X}"/><embed src="${X}"/><object data="${X}"/><html:link xmlns:html="http://www.w3.org/1999/xhtml" rel="stylesheet" href="${X}.css"/>`)],
    // Encodings the renderer resolves and a naive check would not.
    ['markup smuggled in CDATA', svg(`<text><![CDATA[<image href="${X}.png"/><script>alert(1)</script>]]></text>`)],
    ['url( spelt with a character reference', svg(`<rect fill="u&#114;l(${X}#p)"/>`)],
    ['@import spelt with a character reference', svg(`<style>@&#x69;mport "${X}.css";</style>`)],
    ['javascript: spelt with character references', svg(`<a href="&#106;avascript:alert(1)"><rect/></a>`)],
    ['url( spelt with a CSS escape in a style element', svg(`<style>rect { fill: \\75rl(${X}#p) }</style><rect/>`)],
    ['url( spelt with a CSS escape in a style attribute', svg(`<rect style="fill: \\000075 rl(${X}#p)"/>`)],
    ['@import spelt with a CSS escape', svg(`<style>@\\69mport "${X}.css";</style>`)],
    ['a quote breaking out of an attribute', svg(`<image width='10" href="${X}.png' height="10"/>`)],
  ])('removes %s', (_name, input) => {
    const output = clean(input);
    expect(dangers(input).length).toBeGreaterThan(0);
    expect(dangers(output)).toEqual([]);
    expect(output).toMatch(/^<(\w+:)?svg[\s>]/);
  });

  it.each([
    ['a local href', svg('<defs><rect id="a" width="4" height="4"/></defs><use href="#a"/>'), 'href="#a"'],
    ['a local xlink:href', svg('<use xlink:href="#a"/>'), 'xlink:href="#a"'],
    ['a gradient by url(#id)', svg('<rect fill="url(#g)"/>'), 'fill="url(#g)"'],
    ['url(#id) in a style element', svg('<style>rect { fill: url(#g) }</style>'), 'fill: url(#g)'],
    ['inline raster data', svg(`<image width="1" height="1" href="${PIXEL}"/>`), `href="${PIXEL}"`],
    ['CSS in CDATA, as escaped text', svg('<style><![CDATA[svg > rect { fill: #00f }]]></style>'), 'svg &gt; rect { fill: #00f }'],
    ['plain CSS', svg('<style>rect { fill: #00f; stroke: rgb(1,2,3) }</style><rect/>'), 'fill: #00f'],
    ['text with entities', svg('<text>a &lt; b &amp; c</text>'), 'a &lt; b &amp; c'],
    ['ordinary attributes', svg('<rect x="1" y="2" width="3" height="4" rx="1" opacity="0.5" transform="rotate(45)"/>'), 'transform="rotate(45)"'],
  ])('keeps %s', (_name, input, kept) => {
    const output = clean(input);
    expect(output).toContain(kept);
    expect(dangers(output)).toEqual([]);
  });

  it('checks url( in linear time: runs of spaces cannot stall the event loop', () => {
    // With a backtracking `url\(\s*['"]?\s*(?!#)[^)]*\)`, each of these took about a second,
    // synchronously, where no processing timeout can fire.
    const rects = `<rect fill="url(${' '.repeat(2000)}"/>`.repeat(10);
    const started = performance.now();
    const output = clean(svg(`${rects}<style>rect { fill: url(${' '.repeat(2000)}}</style>`));
    expect(performance.now() - started).toBeLessThan(500);
    expect(output).not.toContain('url(');
  });

  it.each([
    ['not XML', '<svg <<'],
    ['no svg root', '<html><body/></html>'],
    ['an external entity', `<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>${svg('<text>&xxe;</text>')}`],
  ])('refuses %s with 422 undecodable_image', (_name, input) => {
    expect(() => clean(input)).toThrow(expect.objectContaining({ statusCode: 422, code: 'undecodable_image' }));
  });
});

describe('SVG originals through the handler', () => {
  let stack: Stack;
  let svgApp: App;
  let server: Server;
  let origin: string;
  let requests: string[];
  let dir: string;
  let redFile: string;

  beforeAll(async () => {
    stack = await startStack();
    svgApp = stack.app({ env: { ALLOW_SVG: 'true' } });
    requests = [];
    const red = await encodeAs(Buffer.from(svg('<rect width="40" height="40" fill="#ff0000"/>')), 'png');
    server = createServer((req, res) => {
      requests.push(req.url ?? '');
      res.writeHead(200, { 'Content-Type': req.url?.endsWith('.css') ? 'text/css' : 'image/png' });
      res.end(req.url?.endsWith('.css') ? 'rect { fill: #ff0000 }' : red);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    // A red image in a local file: if the renderer read files, it would show.
    dir = mkdtempSync(join(tmpdir(), 'svg-test-'));
    redFile = join(dir, 'red.png');
    writeFileSync(redFile, red);
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server?.close(() => resolve()));
    if (dir) rmSync(dir, { recursive: true, force: true });
    await stack?.close();
  });

  async function seedSvg(name: string, text: string): Promise<string> {
    const key = uniqueKey(name);
    await stack.seed(key, Buffer.from(text), 'image/svg+xml');
    return key;
  }

  function expectError(response: HttpResponse, status: number, code: string) {
    expect(response.statusCode).toBe(status);
    expect(JSON.parse(response.body ?? '')).toEqual({ error: { code, message: expect.any(String) } });
  }

  it('answers 415 unsupported_image while SVG is not enabled (the default)', async () => {
    const key = await seedSvg('plain.svg', svg('<rect width="40" height="40" fill="#00f"/>'));
    expectError(await stack.handler(event(key, 'w=20')), 415, 'unsupported_image');
    expect(stack.config.allowSvg).toBe(false);
  });

  it('renders a plain SVG to PNG with ALLOW_SVG=true, its CSS (in CDATA) intact', async () => {
    const key = await seedSvg('plain.svg', svg('<style><![CDATA[svg > rect { fill: #0000ff }]]></style><rect width="40" height="40"/>'));
    const response = await svgApp.handler(event(key, 'w=20'));
    expect(response.statusCode).toBe(200);
    expect(response.headers['Content-Type']).toBe('image/png');
    expect(await describeImage(bodyBytes(response))).toMatchObject({ format: 'png', width: 20, height: 20 });
    expect(await meanColour(bodyBytes(response))).toEqual([0, 0, 255]);
  });

  it('drops a style sheet that imports before rendering, and fetches or reads nothing', async () => {
    const hostile = [
      `<?xml version="1.0"?>`,
      `<?xml-stylesheet type="text/css" href="${origin}/pi.css"?>`,
      `<svg ${NS} width="40" height="40">`,
      `<style>@import url(${origin}/import.css); @import "file://${redFile}"; .box { fill: #ff0000 }</style>`,
      `<rect class="box" width="40" height="20"/>`,
      `<image y="20" width="20" height="20" href="${origin}/image.png"/>`,
      `<image x="20" y="20" width="20" height="20" xlink:href="file://${redFile}"/>`,
      `<image width="1" height="1" href="file:///etc/passwd"/>`,
      `<rect y="20" width="1" height="1" style="fill: url(${origin}/paint.svg#p)"/>`,
      `<use href="${origin}/sprite.svg#a"/>`,
      `<filter id="f"><feImage href="${origin}/fe.png"/></filter>`,
      `<text><![CDATA[<image href="${origin}/cdata.png"/>]]></text>`,
      `</svg>`,
    ].join('');
    const key = await seedSvg('hostile.svg', hostile);

    // The control: librsvg alone, given the same bytes, paints the box with the style sheet's red.
    const unsanitised = await encodeAs(Buffer.from(hostile), 'png');
    const [r, g, b] = await meanColour(unsanitised, { left: 0, top: 0, width: 40, height: 20 });
    expect([r! > 240, g! < 15, b! < 15]).toEqual([true, true, true]);

    const response = await svgApp.handler(event(key, 'fm=png'));

    expect(response.statusCode).toBe(200);
    expect(response.headers['Content-Type']).toBe('image/png');
    const png = bodyBytes(response);
    expect(await describeImage(png)).toMatchObject({ format: 'png', width: 40, height: 40 });
    // The whole style sheet went with its @import: the box is in the default black.
    expect(await meanColour(png, { left: 0, top: 0, width: 40, height: 20 })).toEqual([0, 0, 0]);
    // Neither the server's nor the local file's red image was drawn.
    expect(await meanColour(png, { left: 0, top: 20, width: 40, height: 20 })).toEqual([0, 0, 0]);
    expect(requests).toEqual([]);
  });

  it('answers every hostile SVG with a 200 or a 4xx, never a 5xx, and never fetches', async () => {
    const X = `${origin}/h`;
    const bodies = [
      svg(`<script>fetch('${X}1')</script><rect width="4" height="4"/>`),
      svg(`<foreignObject width="40" height="40"><iframe xmlns="http://www.w3.org/1999/xhtml" src="${X}2"/></foreignObject>`),
      svg(`<image width="10" height="10" href="${X}3.png"><set attributeName="href" to="${X}4.png"/></image>`),
      svg(`<style>rect { fill: \\75rl(${X}5.svg#p) }</style><rect width="4" height="4"/>`),
      svg(`<rect width="4" height="4" fill="u&#114;l(${X}6.svg#p)"/>`),
      svg(`<text><xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="${X}7.txt" parse="text"/></text>`),
      `<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x SYSTEM "${X}8">]>${svg('<text>&x;</text>')}`,
      svg(`<image width='10" href="${X}9.png' height="10"/>`),
    ];
    const statuses: number[] = [];
    for (const [i, body] of bodies.entries()) {
      const key = await seedSvg(`hostile-${i}.svg`, body);
      statuses.push((await svgApp.handler(event(key, 'w=20'))).statusCode);
    }
    expect(statuses.filter((s) => s >= 500)).toEqual([]);
    expect(statuses.every((s) => s === 200 || (s >= 400 && s < 500))).toBe(true);
    expect(requests).toEqual([]);
  });

  it('answers an SVG of 100000×100000 with 413 input_too_large', async () => {
    const key = await seedSvg('huge.svg', svg('<rect width="10" height="10"/>', 'width="100000" height="100000"'));
    expectError(await svgApp.handler(event(key, 'w=50')), 413, 'input_too_large');
  });

  it('answers an SVG that is not well-formed with 422 undecodable_image', async () => {
    const key = await seedSvg('broken.svg', `<svg ${NS} width="10" height="10"><rect`);
    expectError(await svgApp.handler(event(key, 'w=5')), 422, 'undecodable_image');
  });
});
