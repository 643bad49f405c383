'use strict';
/**
 * Values serverless.yml reads with `${file(./scripts/serverless-variables.cjs):<name>}`: the ones
 * its own variable syntax cannot express. Plain CommonJS: the framework require()s it.
 */
const { readFileSync } = require('node:fs');
const { join } = require('node:path');

const VIEWER_REQUEST = join(__dirname, '..', 'edge', 'viewer-request.js');

/**
 * The CloudFront Function's code, exactly the bytes of edge/viewer-request.js. `${file(x.js)}`
 * would run that file as a module instead of reading it, and the framework parses a returned
 * string for `${…}` variables again, which would rewrite the code's template literals. So every
 * `${` is split between two parts of an Fn::Join: no part holds one, and CloudFormation joins the
 * parts back into the original text.
 */
function viewerRequestCode() {
  let code;
  try {
    code = readFileSync(VIEWER_REQUEST, 'utf8');
  } catch (error) {
    throw new Error(`edge/viewer-request.js (the CloudFront Function) cannot be read: ${error.message}`);
  }
  return literalWithoutVariables(code);
}

/** `text` as is when it holds no `${`, else an Fn::Join of parts none of which holds one. */
function literalWithoutVariables(text) {
  const parts = text.split('${');
  if (parts.length === 1) return text;
  return { 'Fn::Join': ['', parts.map((part, i) => (i > 0 ? '{' : '') + part + (i < parts.length - 1 ? '$' : ''))] };
}

/**
 * The originals prefix as the framework's S3 event `rules` (for an existing bucket): none when the
 * prefix is empty, since S3 has no use for an empty prefix filter.
 */
async function originalsPrefixRules({ resolveVariable }) {
  const prefix = await resolveVariable('param:originalsPrefix');
  return prefix ? [{ prefix }] : [];
}

/**
 * The playground function (custom.playground) when param playground is 'true'; null (no function,
 * no routes) when 'false'; any other value fails packaging. serverless.yml falls back to null for
 * the null, which the framework then drops from its functions.
 */
async function playgroundFunction({ resolveVariable }) {
  const value = String(await resolveVariable('param:playground'));
  if (value === 'false') return null;
  if (value === 'true') return resolveVariable('self:custom.playground');
  throw new Error(`param playground must be 'true' or 'false', not '${value}'`);
}

module.exports = { viewerRequestCode, originalsPrefixRules, literalWithoutVariables, playgroundFunction };
