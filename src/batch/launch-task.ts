import { randomUUID } from 'node:crypto';
import { ECSClient, RunTaskCommand, type RunTaskCommandInput } from '@aws-sdk/client-ecs';
import type { BatchSettings } from '../config.js';
import { ConfigError } from '../errors.js';
import { BatchUsageError } from './errors.js';

/**
 * The worker as one Fargate task: the RunTask input for a validated job, and the call itself.
 * The only module that imports the ECS client.
 */

/** ECS refuses overrides whose JSON, formatting included, is longer than this (RunTask API reference). */
export const RUN_TASK_OVERRIDES_LIMIT = 8192;
/** Shown in the console's task list and accepted by ListTasks' startedBy filter. */
export const STARTED_BY = 'image-resizer-batch';
export const JOB_ID_TAG = 'image-resizer:job-id';

/** What a started task runs: the worker's argv, already validated by `parseBatchArgs`. */
export interface TaskPlan {
  readonly jobId: string;
  readonly args: readonly string[];
  /** FARGATE_SPOT: up to ~70 % cheaper, may be reclaimed with two minutes' notice (SIGTERM). */
  readonly spot: boolean;
}

/** ECS (or the way to it) refused to start the task. */
export class BatchLaunchError extends Error {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.name = 'BatchLaunchError';
  }
}

export interface TaskLauncher {
  /** Starts the task; resolves to its ARN. */
  runTask(input: RunTaskCommandInput): Promise<string>;
}

export function runTaskInput(plan: TaskPlan, batch: BatchSettings): RunTaskCommandInput {
  if (!batch.cluster || !batch.taskDefinition) {
    throw new ConfigError('Invalid configuration: BATCH_CLUSTER and BATCH_TASK_DEFINITION must name the cluster and task definition (serverless.yml sets both)');
  }
  // The image's ENTRYPOINT is `node worker.cjs`: `command` is exactly the worker's options.
  const overrides = { containerOverrides: [{ name: batch.containerName, command: [...plan.args] }] };
  const length = JSON.stringify(overrides).length;
  if (length > RUN_TASK_OVERRIDES_LIMIT) {
    throw new BatchUsageError(
      `the job's options take ${length} characters of the task's overrides, over ECS's limit of ${RUN_TASK_OVERRIDES_LIMIT}: ` +
        'list the originals in a manifest ("manifest": "s3://…") instead of long key lists, and name presets (PRESETS) instead of many specs',
    );
  }
  return {
    cluster: batch.cluster,
    taskDefinition: batch.taskDefinition,
    count: 1,
    capacityProviderStrategy: [{ capacityProvider: plan.spot ? 'FARGATE_SPOT' : 'FARGATE', weight: 1 }],
    networkConfiguration: {
      awsvpcConfiguration: {
        subnets: [...batch.subnets],
        securityGroups: batch.securityGroups.length > 0 ? [...batch.securityGroups] : undefined,
        assignPublicIp: batch.assignPublicIp ? 'ENABLED' : 'DISABLED',
      },
    },
    overrides,
    startedBy: STARTED_BY,
    propagateTags: 'TASK_DEFINITION',
    tags: [{ key: JOB_ID_TAG, value: plan.jobId }],
    // The SDK retries a timed-out RunTask with the same input: one token per launch makes a
    // retry return the task already started instead of starting a second one. Not the job id:
    // running a job id again on purpose (to finish what a stopped run left) must start a task.
    clientToken: randomUUID(),
  };
}

export function createEcsLauncher(batch: BatchSettings, client: ECSClient = createEcsClient(batch)): TaskLauncher {
  return {
    async runTask(input) {
      if (batch.subnets.length === 0) {
        throw new ConfigError('Invalid configuration: BATCH_SUBNETS is empty: a Fargate task needs at least one subnet (stage param batchSubnets)');
      }
      let response;
      try {
        response = await client.send(new RunTaskCommand(input));
      } catch (error) {
        const { name, message } = error as Error;
        throw new BatchLaunchError(`ECS RunTask failed: ${name}: ${message}`, { cause: error });
      }
      // RunTask answers 200 with `failures` when it could not place the task (capacity, a
      // missing or inactive task definition, Spot unavailable): not starting is an error.
      const failures = response.failures ?? [];
      const taskArn = response.tasks?.[0]?.taskArn;
      if (failures.length > 0 || !taskArn) {
        const reasons = failures.map((f) => [f.reason, f.detail, f.arn && `(${f.arn})`].filter(Boolean).join(' ')).join('; ');
        throw new BatchLaunchError(`ECS did not start the task: ${reasons || 'no task in the response'}`);
      }
      return taskArn;
    },
  };
}

function createEcsClient(batch: BatchSettings): ECSClient {
  return new ECSClient({
    region: batch.region,
    endpoint: batch.ecsEndpoint,
    credentials: batch.ecsCredentials,
    // Bounded well inside the function's timeout, so a hung call fails with a message.
    requestHandler: { connectionTimeout: 3_000, requestTimeout: 10_000 },
  });
}
