import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, existsSync, ftruncateSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DescribeRepositoriesCommand, ECRClient } from '@aws-sdk/client-ecr';
import { GetAliasCommand, GetFunctionCommand, GetFunctionUrlConfigCommand, LambdaClient, ListFunctionsCommand } from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { startMoto, type Moto } from '../helpers/moto.js';
import { packagingEnv, project } from '../helpers/project.js';
import { tempDir, type BuiltModel, type ModelKind } from '../helpers/python.js';
import { seedPythonBase, startRegistry, type Registry } from '../helpers/registry.js';
import { invokeThroughRuntimeApi } from '../helpers/runtime-api.js';

// Container images end to end: a real registry (Debian's docker-registry), moto for ECR and Lambda,
// skopeo and umoci reading what mlserve pushed, and the image's own entrypoint answering a request.

let moto: Moto;
let registry: Registry;
let base: string;
beforeAll(async () => {
  [moto, registry] = await Promise.all([startMoto(), startRegistry()]);
  // A Debian-like Python 3.11 base (glibc 2.36): torch 2.13 and tensorflow 2.21 need glibc 2.27+, which AWS's python3.11 base (2.26) is not.
  base = await seedPythonBase(registry, { repository: 'library/python', tag: '3.11-slim', python: '3.11', glibc: '2.36' });
}, 120_000);
afterAll(async () => {
  await Promise.all([moto?.stop(), registry?.stop()]);
});

function sdk() {
  const common = { region: 'us-east-1', endpoint: moto.url, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
  return { lambda: new LambdaClient(common), ecr: new ECRClient(common) };
}

interface PackageDoc {
  packageType: string;
  image: { digest: string; base: string; requested: string; layers: { name: string; size: number; reused: boolean }[]; uncompressedBytes: number };
  target: { description: string; platforms: string[] };
  limits: { id: string; ok: boolean }[];
}

async function imageProject(kind: ModelKind, requirements: string): Promise<{ model: BuiltModel; cli: (args: string[]) => ReturnType<typeof runCli> }> {
  const model = await project(kind, ['--provider', 'aws', '--region', 'us-east-1'], `\nimage:\n  base: ${base}\n`);
  writeFileSync(join(model.dir, 'requirements.txt'), requirements);
  const env = packagingEnv({ ...moto.env, MLSERVE_REGISTRY_URL: registry.url });
  return { model, cli: (args) => runCli(args, { cwd: model.dir, env }) };
}

/** skopeo copies the pushed image to an OCI layout, umoci unpacks it: the root file system, read by tools that are not mlserve. */
function unpackWithUmoci(reference: string): { rootfs: string; config: { config: { Entrypoint: string[]; Cmd: string[]; Env: string[]; WorkingDir: string } } } {
  const dir = tempDir('umoci-');
  execFileSync('skopeo', ['copy', '--src-tls-verify=false', `docker://${reference}`, `oci:${join(dir, 'layout')}:pushed`], { stdio: 'pipe' });
  execFileSync('umoci', ['unpack', '--image', `${join(dir, 'layout')}:pushed`, join(dir, 'bundle')], { stdio: 'pipe' });
  const config = JSON.parse(execFileSync('skopeo', ['inspect', '--config', `oci:${join(dir, 'layout')}:pushed`], { encoding: 'utf8' })) as ReturnType<typeof unpackWithUmoci>['config'];
  return { rootfs: join(dir, 'bundle', 'rootfs'), config };
}

function expectClose(actual: number[][], expected: number[][]): void {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((row, i) => row.forEach((v, j) => expect(v).toBeCloseTo(expected[i]![j]!, 4)));
}

/** The image's entrypoint and command, run with the host's Python 3.11 and only the image's own files on its path. */
async function answerFromRootfs(rootfs: string, config: ReturnType<typeof unpackWithUmoci>['config'], rows: number[][]): Promise<number[][]> {
  const [, ...args] = config.config.Entrypoint; // the image names its own python3.11; here the host's runs the same module
  expect(config.config.Entrypoint[0]).toBe('/usr/local/bin/python3.11');
  // AWS's published Function URL event, sent to the endpoint's root (the fixture's path is /my/path).
  const event = JSON.parse(readFileSync(join(import.meta.dirname, '../../../shared/fixtures/events/aws/function-url-iam-post.json'), 'utf8')) as { requestContext: { http: Record<string, unknown> } };
  const http = { ...event.requestContext.http, method: 'POST', path: '/' };
  const request = { ...event, rawPath: '/', requestContext: { ...event.requestContext, http }, body: JSON.stringify({ instances: rows }), isBase64Encoded: false, headers: { 'content-type': 'application/json' } };
  const task = join(rootfs, config.config.WorkingDir);
  // -S: no site-packages, so every import comes from the image (PYTHONPATH is the image's task root).
  const answer = await invokeThroughRuntimeApi(['python3.11', '-S', ...args, ...config.config.Cmd], { cwd: task, env: { PATH: process.env.PATH!, PYTHONPATH: task, HOME: tempDir('home-'), LANG: 'C.UTF-8' }, event: request });
  expect(answer.kind, JSON.stringify(answer.body)).toBe('response');
  const response = answer.body as { statusCode: number; body: string };
  expect(response.statusCode, `${response.body}\n${answer.stderr}`).toBe(200);
  return (JSON.parse(response.body) as { predictions: number[][] }).predictions;
}

describe('container images (runtime.package image) against a real registry and moto', () => {
  it('TorchScript: init picks an image; the same inputs give the same digest; deploy pushes to ECR and creates an Image function; the pushed image answers like the model; destroy leaves nothing', async () => {
    await moto.reset();
    const { model, cli } = await imageProject('torchscript', 'torch==2.13.0+cpu\n');
    expect(readFileSync(join(model.dir, 'mlserve.config.yaml'), 'utf8')).toMatch(/^ {2}package: image/m);

    const first = await cli(['package', '--json']);
    expect(first.code, first.stderr).toBe(0);
    const p1 = first.json<PackageDoc>();
    expect(p1.packageType).toBe('image');
    // The wheels follow the base's glibc (2.36), read from the base image itself.
    expect(p1.target.description).toContain('glibc 2.36');
    expect(p1.image.base).toMatch(new RegExp(`^${registry.host}/library/python@sha256:[0-9a-f]{64}$`));
    expect(p1.image.layers.map((l) => l.name)).toEqual(['dependencies', 'model', 'handler']);
    expect(p1.limits.find((l) => l.id === 'image')).toMatchObject({ ok: true });

    const second = await cli(['package', '--json', '--debug']);
    expect(second.code, second.stderr).toBe(0);
    expect(second.json<PackageDoc>().image.digest).toBe(p1.image.digest);

    // The pre-flight runs the image's own files (unpacked from its layers) before anything is pushed.
    const deploy = await cli(['deploy', '--json']);
    expect(deploy.code, deploy.stderr).toBe(0);
    expect(deploy.json<{ preflight: { ran: boolean } }>().preflight).toMatchObject({ ran: true });
    const d1 = deploy.json<{ version: string; uploaded: string[]; endpoint: string }>();
    expect(d1.version).toBe('1');
    expect(d1.uploaded.filter((u) => u.startsWith('mlserve/iris-dev@')).length).toBeGreaterThanOrEqual(4); // base + 3 layers (+ config)
    const aws = sdk();
    const fn = await aws.lambda.send(new GetFunctionCommand({ FunctionName: 'iris-dev' }));
    expect(fn.Configuration).toMatchObject({ PackageType: 'Image' });
    expect(fn.Code?.ImageUri).toMatch(new RegExp(`/mlserve/iris-dev@${p1.image.digest}$`));
    expect((await aws.lambda.send(new GetAliasCommand({ FunctionName: 'iris-dev', Name: 'dev' }))).FunctionVersion).toBe('1');
    expect((await aws.lambda.send(new GetFunctionUrlConfigCommand({ FunctionName: 'iris-dev', Qualifier: 'dev' }))).AuthType).toBe('AWS_IAM');
    const repos = (await aws.ecr.send(new DescribeRepositoriesCommand({}))).repositories ?? [];
    expect(repos.map((r) => r.repositoryName)).toEqual(['mlserve/iris-dev']);

    // Nothing changed: nothing is pushed, no version is published.
    const again = await cli(['deploy', '--json', '--no-preflight']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.json()).toMatchObject({ version: '1', published: false, uploaded: [] });

    // What skopeo and umoci read from the registry answers like the model itself.
    const tag = `dev-${p1.image.digest.slice(7, 23)}`;
    const inspected = JSON.parse(execFileSync('skopeo', ['inspect', '--tls-verify=false', `docker://${registry.host}/mlserve/iris-dev:${tag}`], { encoding: 'utf8' })) as { Digest: string };
    expect(inspected.Digest).toBe(p1.image.digest);
    const { rootfs, config } = unpackWithUmoci(`${registry.host}/mlserve/iris-dev:${tag}`);
    expect(existsSync(join(rootfs, 'etc/os-release'))).toBe(true); // the base's files are there too
    expectClose(await answerFromRootfs(rootfs, config, model.rows), model.predictions as number[][]);

    // The local provider runs the image's own layers.
    const local = await cli(['invoke', '--provider', 'local', '--target', 'aws', '--data', JSON.stringify({ instances: model.rows }), '--json']);
    expect(local.code, local.stderr).toBe(0);
    expectClose(local.json<{ body: { predictions: number[][] } }>().body.predictions, model.predictions as number[][]);

    const destroy = await cli(['destroy', '--provider', 'aws', '--yes', '--json']);
    expect(destroy.code, destroy.stderr).toBe(0);
    expect((await aws.ecr.send(new DescribeRepositoriesCommand({}))).repositories ?? []).toEqual([]);
    expect((await aws.lambda.send(new ListFunctionsCommand({}))).Functions ?? []).toEqual([]);
  }, 900_000);

  it('Keras saved by TensorFlow (model.h5): packaged as an image with tensorflow-cpu, deployed as an Image function, and the pushed image predicts what Keras does', async () => {
    await moto.reset();
    const { model, cli } = await imageProject('keras-tensorflow', 'keras==3.15.1\ntensorflow-cpu==2.21.0\n');
    const deploy = await cli(['deploy', '--json', '--no-preflight']);
    expect(deploy.code, deploy.stderr).toBe(0);
    const fn = await sdk().lambda.send(new GetFunctionCommand({ FunctionName: 'iris-dev' }));
    expect(fn.Configuration).toMatchObject({ PackageType: 'Image' });
    const digest = /@(sha256:[0-9a-f]{64})$/.exec(fn.Code!.ImageUri!)![1]!;
    const { rootfs, config } = unpackWithUmoci(`${registry.host}/mlserve/iris-dev:dev-${digest.slice(7, 23)}`);
    expect(existsSync(join(rootfs, 'var/task/tensorflow'))).toBe(true);
    expectClose(await answerFromRootfs(rootfs, config, model.rows), model.predictions as number[][]);
    const destroy = await cli(['destroy', '--provider', 'aws', '--yes', '--json']);
    expect(destroy.code, destroy.stderr).toBe(0);
    expect((await sdk().ecr.send(new DescribeRepositoriesCommand({}))).repositories ?? []).toEqual([]);
  }, 900_000);

  it('refuses an image over 10 GB before building or pushing anything, naming the biggest layers', async () => {
    await moto.reset();
    const { model, cli } = await imageProject('custom', '');
    writeFileSync(join(model.dir, 'mlserve.config.yaml'), readFileSync(join(model.dir, 'mlserve.config.yaml'), 'utf8').replace(/^ {2}package: \w+/m, '  package: image'));
    // 11 GiB of weights, sparse: no disk is used, the size is what counts.
    const fd = openSync(join(model.dir, 'weights.bin'), 'w');
    ftruncateSync(fd, 11 * 1024 ** 3);
    closeSync(fd);
    const catalog = async () => ((await (await fetch(`${registry.url}/v2/_catalog`)).json()) as { repositories: string[] }).repositories;
    const before = await catalog();
    const run = await cli(['deploy', '--json']);
    expect(run.code).toBe(1);
    const error = run.json<{ error: { code: string; message: string; hint: string } }>().error;
    expect(error.code).toBe('BUNDLE_TOO_LARGE');
    expect(error.message).toMatch(/the image would be 11\.0 GB uncompressed, over the 10\.0 GB container image limit; biggest layers: model 11\.0 GB, /);
    expect(error.hint).toContain('nothing was built or uploaded');
    expect(existsSync(join(model.dir, '.mlserve', 'build', 'iris-dev-aws.oci'))).toBe(false);
    expect(await catalog()).toEqual(before);
    expect((await sdk().ecr.send(new DescribeRepositoriesCommand({}))).repositories ?? []).toEqual([]);
  });

  it('a deploy killed (SIGKILL) right after its push converges when run again', async () => {
    await moto.reset();
    const { model } = await imageProject('custom', '');
    writeFileSync(join(model.dir, 'mlserve.config.yaml'), readFileSync(join(model.dir, 'mlserve.config.yaml'), 'utf8').replace(/^ {2}package: \w+/m, '  package: image'));
    const env = { ...process.env, ...packagingEnv({ ...moto.env, MLSERVE_REGISTRY_URL: registry.url }) };
    const bin = join(import.meta.dirname, '../../bin/mlserve.js');
    const killed = spawnSync(process.execPath, [bin, 'deploy', '--json'], { cwd: model.dir, env: { ...env, MLSERVE_FAULT_AFTER_STEP: 'image' }, encoding: 'utf8' });
    expect(killed.signal, killed.stderr).toBe('SIGKILL');
    expect((await sdk().lambda.send(new ListFunctionsCommand({}))).Functions ?? []).toEqual([]);
    const rerun = spawnSync(process.execPath, [bin, 'deploy', '--json'], { cwd: model.dir, env, encoding: 'utf8' });
    expect(rerun.status, rerun.stderr).toBe(0);
    expect(JSON.parse(rerun.stdout)).toMatchObject({ version: '1', published: true, uploaded: [] }); // the push before the kill had sent every blob
    const fn = await sdk().lambda.send(new GetFunctionCommand({ FunctionName: 'iris-dev' }));
    expect(fn.Configuration).toMatchObject({ PackageType: 'Image' });
    // Lambda cannot turn an Image function into a Zip one: said, with the way out, nothing changed.
    const config = join(model.dir, 'mlserve.config.yaml');
    writeFileSync(config, readFileSync(config, 'utf8').replace(/^ {2}package: image/m, '  package: zip'));
    const zip = spawnSync(process.execPath, [bin, 'deploy', '--json'], { cwd: model.dir, env, encoding: 'utf8' });
    expect(zip.status).toBe(2);
    expect((JSON.parse(zip.stdout) as { error: { message: string; hint: string } }).error).toMatchObject({
      message: 'function iris-dev is deployed as an Image package; this package is a zip, and Lambda cannot change a function\'s package type',
      hint: expect.stringContaining('mlserve destroy --provider aws'),
    });
  }, 300_000);
});
