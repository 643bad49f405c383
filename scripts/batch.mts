/**
 * `npm run batch -- …`: the batch worker from a clone. Like `sls invoke local`, it talks to the
 * project's local S3 (`npm start`, `npm run s3`: 127.0.0.1:4569) unless S3_ENDPOINT names another;
 * IS_LOCAL=false runs it against AWS with the usual credentials. The container runs the same
 * entry point bundled (worker.cjs), against AWS.
 */
process.env.IS_LOCAL ??= 'true';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
await import('../src/batch/main.js');
