'use strict';
/**
 * The playground page's assets, made when the playground function is bundled: serverless-esbuild
 * loads this file (custom.esbuild.plugins in serverless.yml) for `sls package`, `sls deploy` and
 * serverless-offline (`npm start`) alike. `import { page, script, style } from 'playground:assets'`
 * (handlers/playground.ts) becomes three strings: playground/index.html, playground/app.ts bundled
 * for browsers, and playground/app.css. esbuild is a devDependency: it runs here, at package time,
 * never in Lambda. Plain CommonJS: serverless-esbuild require()s it.
 */
const { readFileSync } = require('node:fs');
const { join } = require('node:path');

const SOURCE = join(__dirname, '..', 'playground');
const MODULE = 'playground:assets';
const NAMESPACE = 'playground-assets';

/** The three assets; `esbuild` is the calling build's own instance when there is one. */
async function buildPlaygroundAssets(esbuild = require('esbuild')) {
  const result = await esbuild.build({
    entryPoints: [join(SOURCE, 'app.ts')],
    bundle: true,
    minify: true,
    format: 'iife',
    target: ['chrome111', 'firefox113', 'safari16.4'],
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  return {
    page: readFileSync(join(SOURCE, 'index.html'), 'utf8'),
    script: result.outputFiles[0].text,
    style: readFileSync(join(SOURCE, 'app.css'), 'utf8'),
    files: [join(SOURCE, 'index.html'), join(SOURCE, 'app.css'), ...Object.keys(result.metafile.inputs).map((input) => join(process.cwd(), input))],
  };
}

/** The esbuild plugin that answers `import … from 'playground:assets'`. */
const playgroundAssetsPlugin = {
  name: NAMESPACE,
  setup(build) {
    build.onResolve({ filter: /^playground:assets$/ }, () => ({ path: MODULE, namespace: NAMESPACE }));
    build.onLoad({ filter: /.*/, namespace: NAMESPACE }, async () => {
      const { page, script, style, files } = await buildPlaygroundAssets(build.esbuild);
      const exports = Object.entries({ page, script, style }).map(([name, value]) => `export const ${name} = ${JSON.stringify(value)};`);
      return { contents: exports.join('\n'), loader: 'js', watchFiles: files };
    });
  },
};

/** serverless-esbuild calls an exported function for the plugins. */
module.exports = () => [playgroundAssetsPlugin];
module.exports.buildPlaygroundAssets = buildPlaygroundAssets;
module.exports.playgroundAssetsPlugin = playgroundAssetsPlugin;
