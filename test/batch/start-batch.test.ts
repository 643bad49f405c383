import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BatchUsageError } from '../../src/batch/errors.js';
import { parseBatchArgs } from '../../src/batch/job.js';
import { BatchLaunchError, createEcsLauncher, JOB_ID_TAG, RUN_TASK_OVERRIDES_LIMIT, STARTED_BY } from '../../src/batch/launch-task.js';
import { startJob } from '../../src/batch/start-job.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import { startEcsStub, TASK_ARN, type EcsStub } from '../support/ecs-stub.js';

/**
 * startBatch end to end below the handler: a JSON job → the worker's argv → RunTask, sent by the
 * real ECS client to a stand-in that speaks ECS's protocol on 127.0.0.1.
 */

const ROOT = resolve(import.meta.dirname, '../..');
const sampleEvent = JSON.parse(readFileSync(join(ROOT, 'events/start-batch.json'), 'utf8'));

let ecs: EcsStub;
beforeAll(async () => {
  ecs = await startEcsStub();
});
afterAll(() => ecs?.close());
beforeEach(() => {
  ecs.requests.length = 0;
  ecs.answer(() => ({ body: { tasks: [{ taskArn: TASK_ARN }], failures: [] } }));
});

const env = (more: Record<string, string> = {}) => ({
  ORIGINALS_BUCKET: 'originals',
  VARIANTS_BUCKET: 'variants',
  BATCH_CLUSTER: 'image-resizer-test-batch',
  BATCH_TASK_DEFINITION: 'image-resizer-test-batch',
  BATCH_SUBNETS: 'subnet-aaa, subnet-bbb',
  BATCH_SECURITY_GROUPS: 'sg-111',
  BATCH_ASSIGN_PUBLIC_IP: 'false',
  ECS_ENDPOINT: ecs.endpoint,
  AWS_ACCESS_KEY_ID: 'test',
  AWS_SECRET_ACCESS_KEY: 'test',
  AWS_REGION: 'us-east-1',
  ...more,
});

function deps(more: Record<string, string> = {}) {
  const config = loadConfig(env(more));
  return { config, launcher: createEcsLauncher(config.batch) };
}

describe('startBatch against an ECS stand-in', () => {
  it('sends one RunTask whose container command is the validated job, and says where the report will be', async () => {
    const d = deps();
    const result = await startJob(sampleEvent, d);

    expect(ecs.requests).toHaveLength(1);
    const [request] = ecs.requests;
    expect(request!.target).toBe('AmazonEC2ContainerServiceV20141113.RunTask');
    expect(request!.headers['content-type']).toBe('application/x-amz-json-1.1');
    // Signed with the configured (dummy) credentials, as any ECS call is.
    expect(request!.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=test\/\d{8}\/us-east-1\/ecs\/aws4_request/);

    const { jobId } = result as { jobId: string };
    expect(jobId).toMatch(/^\d{8}T\d{6}Z-[a-z0-9]+$/);
    const args = ['--prefix', 'photos/', '--preset', 'thumb', '--preset', 'card', '--job-id', jobId];
    expect(result).toEqual({ jobId, taskArn: TASK_ARN, report: `s3://variants/batch-reports/${jobId}/report.jsonl`, args });
    expect(request!.body).toEqual({
      cluster: 'image-resizer-test-batch',
      taskDefinition: 'image-resizer-test-batch',
      count: 1,
      capacityProviderStrategy: [{ capacityProvider: 'FARGATE', weight: 1 }],
      networkConfiguration: { awsvpcConfiguration: { subnets: ['subnet-aaa', 'subnet-bbb'], securityGroups: ['sg-111'], assignPublicIp: 'DISABLED' } },
      overrides: { containerOverrides: [{ name: 'worker', command: args }] },
      startedBy: STARTED_BY,
      propagateTags: 'TASK_DEFINITION',
      tags: [{ key: JOB_ID_TAG, value: jobId }],
      clientToken: expect.stringMatching(/^[0-9a-f-]{36}$/),
    });
    // The worker, given that command, computes the same job and report location.
    const job = parseBatchArgs(request!.body.overrides.containerOverrides[0].command, d.config);
    expect(job.jobId).toBe(jobId);
    expect(`s3://${job.report.bucket}/${job.report.reportKey}`).toBe((result as { report: string }).report);
  });

  it('keeps a given job id, report location and options, and runs on Spot when asked', async () => {
    const result = await startJob(
      { manifest: 's3://inventory/batch-manifests/list.csv', specs: ['w=320&fm=webp'], concurrency: 8, dryRun: true, jobId: 'nightly-1', report: 's3://variants/reports/', spot: true },
      deps({ BATCH_ASSIGN_PUBLIC_IP: 'true', BATCH_CONTAINER_NAME: 'renderer' }),
    );
    expect(result).toMatchObject({ jobId: 'nightly-1', report: 's3://variants/reports/nightly-1/report.jsonl' });
    const { body } = ecs.requests[0]!;
    expect(body.capacityProviderStrategy).toEqual([{ capacityProvider: 'FARGATE_SPOT', weight: 1 }]);
    expect(body.networkConfiguration.awsvpcConfiguration.assignPublicIp).toBe('ENABLED');
    expect(body.overrides.containerOverrides).toEqual([
      {
        name: 'renderer',
        command: ['--manifest', 's3://inventory/batch-manifests/list.csv', '--spec', 'w=320&fm=webp', '--concurrency', '8', '--report', 's3://variants/reports/', '--job-id', 'nightly-1', '--dry-run'],
      },
    ]);
  });

  it('treats a failures[] entry in a successful answer as an error naming the reason', async () => {
    ecs.answer(() => ({
      body: { tasks: [], failures: [{ arn: 'arn:aws:ecs:us-east-1:123456789012:task-definition/image-resizer-test-batch:3', reason: 'MISSING', detail: 'task definition is inactive' }] },
    }));
    const started = startJob(sampleEvent, deps());
    await expect(started).rejects.toBeInstanceOf(BatchLaunchError);
    await expect(started).rejects.toThrow(/ECS did not start the task: MISSING task definition is inactive \(arn:aws:ecs:.*image-resizer-test-batch:3\)/);
    expect(ecs.requests).toHaveLength(1);
  });

  it('reports an ECS error answer with its type and message', async () => {
    ecs.answer(() => ({ status: 400, body: { __type: 'InvalidParameterException', message: 'subnet-aaa does not exist' } }));
    const started = startJob(sampleEvent, deps());
    await expect(started).rejects.toMatchObject({ name: 'BatchLaunchError', message: 'ECS RunTask failed: InvalidParameterException: subnet-aaa does not exist' });
  });

  it('refuses options longer than RunTask’s overrides allow, without calling ECS', async () => {
    const specs = Array.from({ length: 400 }, (_, i) => `w=${i + 1}&h=${i + 1}&fit=contain`);
    const started = startJob({ prefix: 'photos/', specs }, deps());
    await expect(started).rejects.toBeInstanceOf(BatchUsageError);
    await expect(started).rejects.toThrow(new RegExp(`over ECS's limit of ${RUN_TASK_OVERRIDES_LIMIT}: list the originals in a manifest`));
    expect(ecs.requests).toHaveLength(0);
  });

  it('needs subnets before it calls ECS', async () => {
    await expect(startJob(sampleEvent, deps({ BATCH_SUBNETS: '' }))).rejects.toThrow(ConfigError);
    await expect(startJob(sampleEvent, deps({ BATCH_SUBNETS: '' }))).rejects.toThrow(/BATCH_SUBNETS is empty.*batchSubnets/);
    expect(ecs.requests).toHaveLength(0);
  });

  it.each([
    ['an unknown preset', { prefix: 'photos/', presets: ['poster'] }, /^invalid job: --preset: unknown preset "poster"\. Available presets: thumb, card, hero\.$/],
    ['an invalid spec', { prefix: 'photos/', specs: ['w=99999'] }, /^invalid job: "w=99999": .*"w"/],
    ['both a prefix and a manifest', { prefix: 'photos/', manifest: 's3://variants/batch-manifests/a.csv', presets: ['thumb'] }, /^invalid job: give exactly one of --prefix and --manifest$/],
    ['no variants', { prefix: 'photos/' }, /^invalid job: give at least one --preset or --spec$/],
    ['an unknown field', { prefix: 'photos/', presets: 'thumb', sizes: [320] }, /^invalid job: unknown job field\(s\): sizes$/],
    ['a non-boolean spot', { prefix: 'photos/', presets: 'thumb', spot: 'yes' }, /^invalid job: "spot" must be true or false$/],
    ['a bad job id', { prefix: 'photos/', presets: 'thumb', jobId: '../x' }, /^invalid job: --job-id/],
    ['not an object', ['photos/'], /^invalid job: the job must be a JSON object/],
  ])('refuses %s before any call', async (_name, event, message) => {
    const started = startJob(event, deps());
    await expect(started).rejects.toBeInstanceOf(BatchUsageError);
    await expect(started).rejects.toThrow(message);
    expect(ecs.requests).toHaveLength(0);
  });
});

describe('startBatch under `sls invoke local` without ECS_ENDPOINT', () => {
  it('is a dry run: the configuration says so, and the RunTask input is returned instead of sent', async () => {
    const config = loadConfig(env({ ECS_ENDPOINT: '', IS_LOCAL: 'true', BATCH_SUBNETS: '' }));
    expect(config.batch.launchDryRun).toBe(true);
    const result = await startJob(sampleEvent, { config, launcher: undefined });
    expect(result).toMatchObject({
      dryRun: true,
      runTaskInput: {
        cluster: 'image-resizer-test-batch',
        taskDefinition: 'image-resizer-test-batch',
        overrides: { containerOverrides: [{ name: 'worker', command: (result as { args: readonly string[] }).args }] },
      },
    });
    expect(ecs.requests).toHaveLength(0);
  });

  it.each([
    ['with ECS_ENDPOINT', { IS_LOCAL: 'true' }],
    ['outside sls invoke local', { ECS_ENDPOINT: '' }],
  ])('launches for real %s', (_name, more) => {
    expect(loadConfig(env(more)).batch.launchDryRun).toBe(false);
  });
});
