import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { CreateRepositoryCommand, DescribeRepositoriesCommand, ECRClient, GetLifecyclePolicyCommand, ListTagsForResourceCommand } from '@aws-sdk/client-ecr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeLayer } from '../../src/packaging/image/layer.js';
import { buildImage } from '../../src/packaging/image/oci.js';
import { pushImage } from '../../src/packaging/image/registry.js';
import { deleteRepository, ensureRepository, LIFECYCLE_POLICY, registryTarget } from '../../src/providers/aws/repository.js';
import { startMoto, type Moto } from '../helpers/moto.js';
import { tempDir } from '../helpers/python.js';
import { startRegistry, type Registry } from '../helpers/registry.js';

let moto: Moto;
let registry: Registry;
beforeAll(async () => {
  [moto, registry] = await Promise.all([startMoto(), startRegistry()]);
});
afterAll(async () => {
  await Promise.all([moto?.stop(), registry?.stop()]);
});

const ecr = () => new ECRClient({ region: 'us-east-1', endpoint: moto.url, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
const TAGS = { 'mlserve:app': 'iris', 'mlserve:stage': 'dev' };

describe('the app’s ECR repository (against moto)', () => {
  it('is created once, private, immutable, scanned on push, encrypted, tagged, with a lifecycle policy; deleted with its images', async () => {
    const client = ecr();
    const first = await ensureRepository(client, 'mlserve/iris', TAGS);
    const again = await ensureRepository(client, 'mlserve/iris', TAGS);
    expect([first.created, again.created]).toEqual([true, false]);
    expect(again.uri).toBe(first.uri);
    const [repo] = (await client.send(new DescribeRepositoriesCommand({ repositoryNames: ['mlserve/iris'] }))).repositories!;
    expect(repo).toMatchObject({ imageTagMutability: 'IMMUTABLE', imageScanningConfiguration: { scanOnPush: true }, encryptionConfiguration: { encryptionType: 'AES256' } });
    const tags = (await client.send(new ListTagsForResourceCommand({ resourceArn: repo!.repositoryArn! }))).tags!;
    expect(tags).toEqual(expect.arrayContaining([{ Key: 'mlserve:app', Value: 'iris' }, { Key: 'mlserve:stage', Value: 'dev' }]));
    const policy = await client.send(new GetLifecyclePolicyCommand({ repositoryName: 'mlserve/iris' }));
    expect(JSON.parse(policy.lifecyclePolicyText!)).toEqual(JSON.parse(LIFECYCLE_POLICY));

    // Another stage's destroy leaves it alone; this stage's deletes it, once.
    expect(await deleteRepository(client, 'mlserve/iris', { ...TAGS, 'mlserve:stage': 'prod' })).toBe(false);
    expect(await deleteRepository(client, 'mlserve/iris', TAGS, true)).toBe(true);
    expect(await deleteRepository(client, 'mlserve/iris', TAGS)).toBe(true);
    expect(await deleteRepository(client, 'mlserve/iris', TAGS)).toBe(false);
    await expect(client.send(new DescribeRepositoriesCommand({ repositoryNames: ['mlserve/iris'] }))).rejects.toMatchObject({ name: 'RepositoryNotFoundException' });
  });

  it('never takes over a repository someone else made', async () => {
    const client = ecr();
    await client.send(new CreateRepositoryCommand({ repositoryName: 'team/iris' }));
    await expect(ensureRepository(client, 'team/iris', TAGS)).rejects.toMatchObject({ code: 'NOT_OWNED', message: expect.stringContaining('team/iris exists but was not created by mlserve') });
  });

  it('pushes with ECR’s token to the registry it names, or to MLSERVE_REGISTRY_URL', async () => {
    const client = ecr();
    const named = await registryTarget(client, 'mlserve/iris', {});
    expect(named.url).toMatch(/^https:\/\/\d{12}\.dkr\.ecr\.us-east-1\.amazonaws\.com$/);
    expect(Buffer.from(named.authorization!.replace(/^Basic /, ''), 'base64').toString()).toMatch(/^AWS:/);

    const target = await registryTarget(client, 'mlserve/iris', { MLSERVE_REGISTRY_URL: registry.url });
    expect(target).toMatchObject({ url: registry.url, repository: 'mlserve/iris', authorization: named.authorization });
    const text = 'def handler(e, c):\n    return 1\n';
    const layer = await writeLayer([{ name: 'var/task/mlserve_handler.py', source: { data: Buffer.from(text) }, size: text.length, mode: 0o644 }], join(tempDir('ecr-'), 'l.tar.gz'));
    const image = buildImage({ architecture: 'amd64', cmd: ['mlserve_handler.handler'], env: {}, workingDir: '/var/task', layers: [{ layer, createdBy: 'handler' }] });
    const pushed = await pushImage(target, image, 'v1');
    expect(pushed.digest).toBe(image.manifestDigest);
    const inspect = JSON.parse(execFileSync('skopeo', ['inspect', '--tls-verify=false', `docker://${registry.host}/mlserve/iris:v1`], { encoding: 'utf8' })) as { Digest: string };
    expect(inspect.Digest).toBe(image.manifestDigest);
  });
});
