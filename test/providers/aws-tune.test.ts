import { GetFunctionConfigurationCommand, LambdaClient, ListVersionsByFunctionCommand } from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/core/config/load.js';
import { RecordingReporter } from '../../src/core/reporter.js';
import { tuneModel } from '../../src/core/actions/tune.js';
import { AwsProvider } from '../../src/providers/aws/index.js';
import { runCli } from '../helpers/cli.js';
import { startMoto, type Moto } from '../helpers/moto.js';
import { packagingEnv, project } from '../helpers/project.js';

let moto: Moto;
beforeAll(async () => {
  moto = await startMoto();
});
afterAll(async () => {
  await moto?.stop();
});

describe('mlserve tune on AWS', () => {
  it('publishes a temporary version per size, reads each invocation’s REPORT line, reports out of memory, and leaves the function as it was', async () => {
    await moto.reset();
    const model = await project('custom', ['--provider', 'aws', '--region', 'us-east-1']);
    const env = packagingEnv(moto.env);
    expect((await runCli(['deploy'], { cwd: model.dir, env })).code).toBe(0);
    const lambda = new LambdaClient({ region: 'us-east-1', endpoint: moto.url, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
    const invoked: string[] = [];
    let fresh = false;
    const loaded = await loadConfig({ cwd: model.dir, env });
    // moto runs no code: Invoke is answered at the SDK boundary with what Lambda would log, from the
    // memory moto holds for the version invoked (more memory, more CPU: shorter; 128 MB runs out).
    const provider = new AwsProvider({ loaded, env, reporter: new RecordingReporter() }, {
      configureClients: (clients) => {
        clients.lambda.middlewareStack.add(
          (next, context) => async (args) => {
            if (context.commandName === 'PublishVersionCommand') fresh = true; // the next invoke is that version's first: cold
            if (context.commandName !== 'InvokeCommand') return next(args);
            const qualifier = (args.input as { Qualifier: string }).Qualifier;
            invoked.push(qualifier);
            const memory = (await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'iris-dev', Qualifier: qualifier }))).MemorySize!;
            const cold = fresh;
            fresh = false;
            const duration = Math.round(200_000 / memory);
            const report = memory <= 128
              ? `REPORT RequestId: x\tDuration: 900.00 ms\tBilled Duration: 900 ms\tMemory Size: ${memory} MB\tMax Memory Used: ${memory} MB\tStatus: error\tError Type: Runtime.OutOfMemory`
              : `REPORT RequestId: x\tDuration: ${duration}.00 ms\tBilled Duration: ${duration + 1} ms\tMemory Size: ${memory} MB\tMax Memory Used: 180 MB${cold ? '\tInit Duration: 400.00 ms' : ''}`;
            return { output: { $metadata: {}, StatusCode: 200, ExecutedVersion: qualifier, ...(memory <= 128 ? { FunctionError: 'Unhandled' } : {}), LogResult: Buffer.from(`START\nEND\n${report}\n`).toString('base64'), Payload: Buffer.from('{"statusCode": 200, "body": "{}"}') }, response: {} } as never;
          },
          { step: 'initialize', name: 'lambda-report-lines' },
        );
      },
    });
    const result = await tuneModel(provider, { sizes: [128, 512, 1024, 2048, 4096], requests: 5, request: { method: 'POST', path: '/v1/models/iris:predict', body: '{"instances": [[1, 2, 3, 4]]}' }, p99Target: 300, arch: 'x86_64', reporter: new RecordingReporter() });
    expect(result.rows.map((r) => [r.memoryMb, r.p50, r.coldMs, r.maxMemoryMb, r.failure ?? null])).toEqual([
      [128, null, null, 128, 'out of memory: 128 MB used of 128 MB'],
      [512, 392, 791, 180, null],
      [1024, 196, 595, 180, null],
      [2048, 99, 498, 180, null],
      [4096, 50, 449, 180, null],
    ]);
    // 512 MB misses 300 ms; of the rest, the cheapest per million requests.
    expect(result.choice!.memoryMb).toBe(1024);
    expect(invoked).toHaveLength(1 + 4 * 6);
    // Every temporary version is gone and $LATEST is back at the config's memory.
    const versions = (await lambda.send(new ListVersionsByFunctionCommand({ FunctionName: 'iris-dev' }))).Versions!.map((v) => v.Version);
    expect(versions).toEqual(['$LATEST', '1']);
    expect((await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'iris-dev' }))).MemorySize).toBe(1024);
  });
});
