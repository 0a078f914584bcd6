import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promote, rollback, switchTo } from '../../src/providers/alias.js';
import { BlobVersions } from '../../src/providers/azure/versions.js';
import { startAzurite, type Azurite } from '../helpers/azurite.js';
import { tempDir } from '../helpers/python.js';

let azurite: Azurite;
beforeAll(async () => {
  azurite = await startAzurite();
}, 60_000);
afterAll(async () => {
  await azurite?.stop();
});

async function container(name: string): Promise<ContainerClient> {
  const client = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(name);
  await client.createIfNotExists();
  return client;
}

function pkg(text: string): { file: string; sha256: string } {
  const file = join(tempDir('azpkg-'), 'package.zip');
  writeFileSync(file, text);
  return { file, sha256: createHash('sha256').update(text).digest('hex') };
}

describe('Azure versions in Blob Storage (against Azurite)', () => {
  it('keeps each package once under its SHA-256, numbers versions, and moves the stage pointer', async () => {
    const packages = await container('packages');
    const store = new BlobVersions(packages, 'iris/dev');
    const a = pkg('package one');
    const first = await store.publish(a.file, { bundleSha256: a.sha256, modelSha256: 'm1' });
    expect(first).toMatchObject({ published: true, version: { version: '1', key: `iris/dev/packages/${a.sha256}.zip` }, uploaded: [`iris/dev/packages/${a.sha256}.zip`] });
    // The same package again: nothing uploaded, no new version.
    expect(await store.publish(a.file, { bundleSha256: a.sha256, modelSha256: 'm1' })).toMatchObject({ published: false, uploaded: [], version: { version: '1' } });
    const b = pkg('package two');
    expect((await store.publish(b.file, { bundleSha256: b.sha256, modelSha256: 'm2' })).version.version).toBe('2');

    await store.setAlias((alias) => switchTo(alias, '1'));
    await store.setAlias((alias) => promote(alias, 'dev', { version: '2' }));
    expect(await store.alias()).toEqual({ version: '2', history: ['1'] });
    await store.setAlias((alias) => rollback(alias, 'dev'));
    expect((await store.alias()).version).toBe('1');

    // Read back with the SDK, as a user would: the package's bytes, the index, the pointer.
    const body = await packages.getBlockBlobClient(`iris/dev/packages/${b.sha256}.zip`).downloadToBuffer();
    expect(createHash('sha256').update(body).digest('hex')).toBe(b.sha256);
    const index = JSON.parse((await packages.getBlockBlobClient('iris/dev/versions.json').downloadToBuffer()).toString()) as { version: string; bundleSha256: string }[];
    expect(index.map((v) => [v.version, v.bundleSha256])).toEqual([['1', a.sha256], ['2', b.sha256]]);
    expect(JSON.parse((await packages.getBlockBlobClient('iris/dev/stage.json').downloadToBuffer()).toString())).toMatchObject({ version: '1' });

    await store.remove(['2']);
    expect((await store.list()).map((v) => v.version)).toEqual(['1']);
    expect(await packages.getBlockBlobClient(`iris/dev/packages/${b.sha256}.zip`).exists()).toBe(false);
  });

  it('loses no version when deploys publish at the same time (conditional writes on the index)', async () => {
    const store = new BlobVersions(await container('race'), 'iris/dev');
    const packages = Array.from({ length: 6 }, (_, i) => pkg(`concurrent ${i}`));
    // Six deploys, each with its own client, as six processes would.
    const results = await Promise.all(packages.map(async (p) => new BlobVersions(await container('race'), 'iris/dev').publish(p.file, { bundleSha256: p.sha256, modelSha256: 'm' })));
    expect(results.map((r) => Number(r.version.version)).sort((x, y) => x - y)).toEqual([1, 2, 3, 4, 5, 6]);
    const listed = await store.list();
    expect(listed).toHaveLength(6);
    expect(new Set(listed.map((v) => v.bundleSha256))).toEqual(new Set(packages.map((p) => p.sha256)));
  });
});
