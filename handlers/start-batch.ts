import { createEcsLauncher } from '../src/batch/launch-task.js';
import { startJob } from '../src/batch/start-job.js';
import { loadConfig } from '../src/config.js';

// Built once per cold start and reused by every invocation of this instance.
const config = loadConfig();
const launcher = config.batch.launchDryRun ? undefined : createEcsLauncher(config.batch);

/** A JSON job in (README "Batch"); { jobId, taskArn, report, args } out, or a thrown error that says what is wrong. */
export const handler = (event: unknown) => startJob(event, { config, launcher });
