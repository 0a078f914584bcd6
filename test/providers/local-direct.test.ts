import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, createServer, request } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { functionUrlEvent } from '../../src/providers/http-event.js';
import { runCli, startServe } from '../helpers/cli.js';
import { processesIn } from '../helpers/processes.js';
import { packagingEnv, project } from '../helpers/project.js';
import { testPython, type BuiltModel } from '../helpers/python.js';

/** The first feature picks a behaviour: -2 crashes the worker mid-request; -5 holds it until the test removes the file MARK. */
const PREDICT = `import os
import time


def load(model_dir):
    return None


def predict(model, inputs):
    if inputs[0][0] == -2:
        os._exit(3)
    if inputs[0][0] == -5:
        open("MARK", "w").close()
        while os.path.exists("MARK"):
            time.sleep(0.01)
    return [OFFSET + sum(row) for row in inputs]
`;

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** The client's port: the same one means the same connection. */
  port: number;
}

/** One request on `agent`'s single keep-alive connection. */
function send(agent: Agent, url: string, path: string, body: unknown): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, { method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text, port: req.socket!.localPort! }));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

/** /proc/net/tcp's row for the server's side of the connection whose client port is `port`. */
function serverSide(port: number): string[] {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const row = readFileSync('/proc/net/tcp', 'utf8').split('\n').map((l) => l.trim().split(/\s+/)).find((f) => f[2]?.endsWith(hex) && f[1]?.startsWith('0100007F'));
  if (!row) throw new Error(`no server socket for client port ${port}`);
  return row;
}

/** Bytes that arrived on the server's side of that connection and nobody has read yet. */
const unread = (port: number): number => parseInt(serverSide(port)[4]!.split(':')[1]!, 16);

/** The pids holding the server's side of the connection whose client port is `port` (/proc/net/tcp, then every fd). */
function holders(port: number): number[] {
  const link = `socket:[${serverSide(port)[9]}]`;
  return readdirSync('/proc').filter((p) => /^\d+$/.test(p)).map(Number).filter((pid) => {
    try {
      return readdirSync(`/proc/${pid}/fd`).some((fd) => readlinkSync(`/proc/${pid}/fd/${fd}`) === link);
    } catch {
      return false; // gone, or not ours to read
    }
  });
}

/** Polls until `ready` holds (vitest's waitUntil; it fails the test after 10 s). */
const until = (ready: () => boolean): Promise<boolean> => vi.waitUntil(ready, { timeout: 10_000, interval: 10 });

const predict = (first: number) => ({ instances: [[first, 1, 1, 1]] });

/** The event the server's own path builds from these bytes (Node's parser, then http-event.ts). */
async function serverEvent(raw: string): Promise<Record<string, unknown>> {
  let done: (event: Record<string, unknown>) => void = () => undefined;
  const event = new Promise<Record<string, unknown>>((resolve) => (done = resolve));
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      done(functionUrlEvent({ method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks), sourceIp: '127.0.0.1' }, 'r'));
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const socket = connect((server.address() as AddressInfo).port, '127.0.0.1', () => socket.end(raw));
  try {
    return await event;
  } finally {
    socket.destroy();
    server.close();
  }
}

/** The event a worker builds from the same bytes (direct.py). */
function workerEvent(raw: string): Record<string, unknown> {
  const code = 'import json, sys\nfrom mlserve_runtime.direct import parse, function_url_event\nraw = sys.stdin.buffer.read()\nprint(json.dumps(function_url_event(parse(memoryview(raw), 6291456), "r", "127.0.0.1")))';
  const out = execFileSync(testPython(), ['-c', code], { input: raw, env: { ...process.env, PYTHONPATH: join(import.meta.dirname, '../../templates/python') } });
  return JSON.parse(out.toString()) as Record<string, unknown>;
}

/** Without what differs by the clock. */
function timeless(event: Record<string, unknown>): Record<string, unknown> {
  const { time: _time, timeEpoch: _epoch, ...context } = event.requestContext as Record<string, unknown>;
  return { ...event, requestContext: context };
}

describe('the event a worker builds', () => {
  it('is the one the server builds from the same bytes', async () => {
    const requests = [
      'POST /v1/models/iris:predict?a=1&b=x+y&a=2&c= HTTP/1.1\r\nHost: abc.example:8080\r\nCookie: s=1; t=2\r\nUser-Agent: curl/8\r\nContent-Type: application/json\r\nX-Custom:  Value \r\nContent-Length: 17\r\n\r\n{"instances": []}',
      'POST /v2/models/iris/infer HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/octet-stream\r\nContent-Length: 3\r\n\r\n\u0001\u0002\u0003',
      'GET /v2/health/ready HTTP/1.1\r\nHost: 127.0.0.1:9\r\nConnection: close\r\n\r\n',
    ];
    for (const raw of requests) expect(timeless(workerEvent(raw))).toEqual(timeless(await serverEvent(raw)));
  });
});

describe('serve: workers answer on the client’s own connection', () => {
  let model: BuiltModel;
  let store: string;
  let mark: string;
  const env = packagingEnv();
  beforeAll(async () => {
    model = await project('custom', ['--timeout', '5'], '\nstages:\n  one:\n    resources:\n      concurrency: 1\n  two:\n    local:\n      workers: 2\n');
    store = join(model.dir, '.mlserve/local/iris');
    mark = join(model.dir, 'held');
    writeFileSync(join(model.dir, 'predict.py'), PREDICT.replace('OFFSET', '0').replaceAll('MARK', mark));
    expect((await runCli(['deploy'], { cwd: model.dir, env })).code).toBe(0);
    expect((await runCli(['deploy', '--stage', 'one'], { cwd: model.dir, env })).code).toBe(0);
    expect((await runCli(['deploy', '--stage', 'two'], { cwd: model.dir, env })).code).toBe(0);
    writeFileSync(join(model.dir, 'predict.py'), PREDICT.replace('OFFSET', '100').replaceAll('MARK', mark));
    expect((await runCli(['deploy', '--no-promote'], { cwd: model.dir, env })).code).toBe(0);
  });

  it('a worker holds the connection it answers; the Invoke API and a promote hand it back to the server, with nothing lost', async () => {
    const serve = await startServe(model.dir, env);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const first = await send(agent, serve.url, '/v1/models/iris:predict', predict(1));
      expect([first.status, first.headers['x-mlserve-version'], JSON.parse(first.body)]).toEqual([200, '1', { predictions: [4] }]);
      const workers = processesIn(join(store, 'dev/versions/1'));
      expect(holders(first.port).filter((pid) => workers.includes(pid))).toHaveLength(1);
      // The Invoke API is the server's: the worker gives the connection back before reading a byte of it.
      const invoked = await send(agent, serve.url, '/2015-03-31/functions/iris/invocations', predict(2));
      expect([invoked.port, invoked.status, invoked.headers['x-amz-executed-version'], JSON.parse(invoked.body)]).toEqual([first.port, 200, '1', { predictions: [5] }]);
      expect(holders(first.port).filter((pid) => workers.includes(pid))).toEqual([]);
      // A new connection goes to a worker again; after a promote its worker gives it back, and the
      // server answers from the new version on the same connection.
      const fresh = new Agent({ keepAlive: true, maxSockets: 1 });
      const before = await send(fresh, serve.url, '/v1/models/iris:predict', predict(1));
      expect(holders(before.port).filter((pid) => workers.includes(pid))).toHaveLength(1);
      expect((await runCli(['promote', '2'], { cwd: model.dir, env })).code).toBe(0);
      const after = await send(fresh, serve.url, '/v1/models/iris:predict', predict(1));
      expect([after.port, after.status, after.headers['x-mlserve-version'], JSON.parse(after.body)]).toEqual([before.port, 200, '2', { predictions: [104] }]);
      expect(holders(after.port).filter((pid) => workers.includes(pid))).toEqual([]);
      fresh.destroy();
    } finally {
      agent.destroy();
      await serve.stop();
      expect((await runCli(['rollback'], { cwd: model.dir, env })).code).toBe(0);
    }
  });

  it('a worker that dies mid-request: the server answers 502 on that connection, and its idle ones go on through the server', async () => {
    const serve = await startServe(model.dir, env, ['--stage', 'one']);
    const idle = new Agent({ keepAlive: true, maxSockets: 1 });
    const crashing = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const warm = await send(idle, serve.url, '/v1/models/iris:predict', predict(1));
      expect(warm.status).toBe(200);
      const [worker] = processesIn(join(store, 'one/versions/1'));
      expect(holders(warm.port)).toContain(worker);
      const crash = await send(crashing, serve.url, '/v1/models/iris:predict', predict(-2));
      expect(crash.status).toBe(502);
      expect(crash.headers.connection).toBe('close');
      expect(JSON.parse(crash.body)).toMatchObject({ error: { code: 'WORKER_CRASHED', message: expect.stringContaining('exit code 3'), request_id: crash.headers['x-amzn-requestid'] } });
      // The connection the dead worker held idle still works, on the same port: no reconnect.
      const next = await send(idle, serve.url, '/v1/models/iris:predict', predict(2));
      expect([next.port, next.status, JSON.parse(next.body)]).toEqual([warm.port, 200, { predictions: [5] }]);
    } finally {
      idle.destroy();
      crashing.destroy();
      await serve.stop();
    }
  });

  it('a worker throttles past the pool’s capacity and not below it, however the connections are spread', async () => {
    const serve = await startServe(model.dir, env, ['--stage', 'two']);
    const agents = Array.from({ length: 56 }, () => new Agent({ keepAlive: true, maxSockets: 1 }));
    const path = '/v1/models/iris:predict';
    /** The client ports of agents[1..55], once they are warm. */
    let ports: number[] = [];
    /** Holds the worker that has agents[1]'s connection while `others` each send one request; their answers. */
    const whileHeld = async (others: Agent[]): Promise<Answer[]> => {
      const busy = send(agents[1]!, serve.url, path, predict(-5));
      await until(() => existsSync(mark));
      const answers = others.map((a, i) => send(a, serve.url, path, predict(i)));
      await until(() => ports.slice(1, others.length + 1).every((port) => unread(port) > 0));
      rmSync(mark);
      expect((await busy).status).toBe(200);
      return Promise.all(answers);
    };
    try {
      // One worker is held on the first connection, so the other takes all the next 55, sent in
      // two rounds so that the new connections waiting for a worker never fill the queue (50).
      const held = send(agents[0]!, serve.url, path, predict(-5));
      await until(() => existsSync(mark));
      const warm: Answer[] = [];
      for (const round of [agents.slice(1, 29), agents.slice(29)]) {
        warm.push(...(await Promise.all(round.map((a) => send(a, serve.url, path, predict(0))))));
      }
      expect(warm.map((a) => a.status)).toEqual(warm.map(() => 200));
      ports = warm.map((a) => a.port);
      const owners = new Set(ports.flatMap((port) => holders(port).filter((pid) => processesIn(join(store, 'two/versions/1')).includes(pid))));
      expect(owners.size).toBe(1);
      rmSync(mark);
      expect((await held).status).toBe(200);
      // 1 running on that worker and 29 waiting on it, against a pool of 2 running and 50 queued:
      // none may be throttled, though all 30 are on one worker.
      const below = await whileHeld(agents.slice(2, 31));
      expect(below.map((a) => [a.status, JSON.parse(a.body)])).toEqual(below.map((_, i) => [200, { predictions: [i + 3] }]));
      expect(below.map((a) => a.port)).toEqual(ports.slice(1, 30));
      // 1 running and 54 waiting: 3 past the pool's 52. Some are throttled, no more than those 3,
      // and the rest are answered.
      const past = await whileHeld(agents.slice(2));
      const throttled = past.filter((a) => a.status === 429);
      expect(throttled.length).toBeGreaterThan(0);
      expect(throttled.length).toBeLessThanOrEqual(1 + 54 - 52);
      expect(throttled.map((a) => JSON.parse(a.body).error.code)).toEqual(throttled.map(() => 'TOO_MANY_REQUESTS'));
      expect(past.filter((a) => a.status === 200).length).toBe(54 - throttled.length);
    } finally {
      rmSync(mark, { force: true });
      for (const a of agents) a.destroy();
      await serve.stop();
    }
  });
});
