import type { RunTaskCommandInput } from '@aws-sdk/client-ecs';
import type { Config } from '../config.js';
import { BatchUsageError } from './errors.js';
import { jobRequestToArgs, parseBatchArgs, type JobRequest } from './job.js';
import { runTaskInput, type TaskLauncher, type TaskPlan } from './launch-task.js';
import { s3Uri } from './s3-uri.js';

/**
 * `startBatch`: a JSON job in, a running worker task out. The job is validated here exactly as the
 * worker will validate its command line, so a job that starts is a job that can run, and the
 * job id (hence the report's location) is fixed before the task exists.
 */

/** A job as `startBatch` receives it: the worker's options, plus where to run them. */
export interface StartJobRequest extends JobRequest {
  readonly spot?: boolean;
}

export interface JobPlan extends TaskPlan {
  /** Where the worker writes its report of failed items: s3://bucket/key. */
  readonly report: string;
}

export interface StartedJob {
  readonly jobId: string;
  readonly taskArn: string;
  readonly report: string;
  readonly args: readonly string[];
}

export interface DryRunStart {
  readonly dryRun: true;
  readonly jobId: string;
  readonly report: string;
  readonly args: readonly string[];
  readonly runTaskInput: RunTaskCommandInput;
}

export interface StartJobDeps {
  readonly config: Config;
  /** `undefined`: a dry run (`sls invoke local` without an ECS stand-in) that only shows the input. */
  readonly launcher: TaskLauncher | undefined;
  readonly now?: () => Date;
}

export function planJob(event: unknown, config: Config, now = new Date()): JobPlan {
  try {
    // `spot` is where the task runs, not what the worker does: it never reaches the command line.
    const { spot, ...request } = isObject(event) ? (event as StartJobRequest) : { spot: undefined };
    if (spot !== undefined && typeof spot !== 'boolean') throw new BatchUsageError('"spot" must be true or false');
    const args = jobRequestToArgs(isObject(event) ? request : (event as JobRequest));
    const { jobId } = parseBatchArgs(args, config, now);
    // The generated id goes into the command: the worker would otherwise pick its own, and
    // the report location returned here would name a folder nobody writes.
    const withId = request.jobId === undefined ? [...args, '--job-id', jobId] : args;
    const job = parseBatchArgs(withId, config, now);
    return { jobId: job.jobId, args: withId, spot: spot ?? false, report: s3Uri(job.report.bucket, job.report.reportKey) };
  } catch (error) {
    if (error instanceof BatchUsageError) throw new BatchUsageError(`invalid job: ${error.message}`);
    throw error;
  }
}

export async function startJob(event: unknown, { config, launcher, now = () => new Date() }: StartJobDeps): Promise<StartedJob | DryRunStart> {
  const plan = planJob(event, config, now());
  const input = runTaskInput(plan, config.batch);
  const { jobId, report, args } = plan;
  if (launcher === undefined) return { dryRun: true, jobId, report, args, runTaskInput: input };
  const taskArn = await launcher.runTask(input);
  return { jobId, taskArn, report, args };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
