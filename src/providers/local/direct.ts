import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import type { Outcome } from './worker-pool.js';

/**
 * Direct serving (`serve`): each connection the server accepts is handed, with Node's IPC channel,
 * to a version's workers, which answer its requests themselves (templates/python/mlserve_runtime/
 * direct.py), so no process sits between the client and the handler. Node's own HTTP server and its
 * trip through the worker's pipe cost more CPU per request than a small model's whole predict.
 * The server keeps its copy of each connection, paused and never read: a worker that dies, times out
 * or runs out of memory mid-request still has its request answered (502, 504), and a connection a
 * worker gives back (the Invoke API, a canary, an alias that moved, anything it would not parse) goes
 * on through Node's HTTP server with nothing lost, since the worker only peeks until it serves.
 */

/** Where a connection goes when no worker serves it, and how a lost request is answered. */
export interface ConnectionSink {
  toServer(socket: Socket): void;
  answer(socket: Socket, outcome: Exclude<Outcome, { kind: 'ok' | 'throttled' }>, requestId: string, version: string): void;
}

/** The request a worker was running: its connection, when it started (epoch ms), its id. */
export interface InFlight {
  conn: string;
  started: number;
  requestId: string;
}

/** A worker's in-flight record (direct.py writes it at each request's start, blanks it at the end). */
export function readInFlight(file: string): InFlight | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'latin1').trim();
  } catch {
    return undefined; // not written yet, or never (a worker with no connections)
  }
  const [conn, started, requestId] = text.split(' ');
  return conn && requestId && Number(started) > 0 ? { conn, started: Number(started), requestId } : undefined;
}

interface Held {
  socket: Socket;
  link: ChildProcess;
  /** The pid of the worker that took it from the channel (any of the link's family may). */
  holder?: number;
}

type WorkerMessage = { mlserve?: string; id?: string; pid?: number };

/** The connections of one version's workers, by the id sent with each. */
export class DirectConnections {
  private readonly held = new Map<string, Held>();
  private next = 0;

  constructor(
    private readonly sink: ConnectionSink,
    private readonly version: string,
  ) {}

  /** Connections the workers hold, idle ones too. */
  get open(): number {
    return this.held.size;
  }

  /**
   * Connections sent that no worker has taken yet: Node passes one at a time, and a worker takes
   * the next when it is idle, so these are new connections waiting for a worker, each with its
   * first request: the pool's queue.
   */
  get undelivered(): number {
    let n = 0;
    for (const held of this.held.values()) if (held.holder === undefined) n++;
    return n;
  }

  /** Listen to a spawned worker's channel (it and the siblings it forks share it). */
  listen(link: ChildProcess): void {
    link.on('message', (message: WorkerMessage) => this.onMessage(message));
  }

  adopt(socket: Socket, link: ChildProcess): void {
    const id = String(++this.next);
    this.held.set(id, { socket, link });
    // The raw handle, not the Socket: Node then neither closes its copy nor tracks it for the net
    // server's close (which would wait for the worker to answer Node's own cluster messages).
    const handle = (socket as unknown as { _handle: object })._handle;
    link.send({ mlserve: 'conn', id }, handle as never, { keepOpen: true }, (error) => {
      if (error) this.release(id, undefined);
    });
  }

  private onMessage(message: WorkerMessage): void {
    const held = message.id === undefined ? undefined : this.held.get(message.id);
    if (!held) return;
    if (message.mlserve === 'took' && message.pid !== undefined) held.holder = message.pid;
    else if (message.mlserve === 'handback') this.release(message.id!, undefined);
    else if (message.mlserve === 'closed') {
      this.held.delete(message.id!);
      held.socket.destroy();
    }
  }

  /** Back to the server (idle, or given back), or answered with `lost` when its request was running. */
  private release(id: string, lost: { outcome: Parameters<ConnectionSink['answer']>[1]; requestId: string } | undefined): void {
    const held = this.held.get(id);
    if (!held) return;
    this.held.delete(id);
    if (held.socket.destroyed) return;
    if (lost) this.sink.answer(held.socket, lost.outcome, lost.requestId, this.version);
    else this.sink.toServer(held.socket);
  }

  /**
   * A worker ended: the request it was running gets `outcome`; its other connections (idle: it had
   * taken no bytes of them) go on through the server, and so do those its channel still held unread
   * once no process of that family is left to take them.
   */
  lost(pid: number, inFlight: InFlight | undefined, outcome: Parameters<ConnectionSink['answer']>[1], familyGone: ChildProcess | undefined): void {
    for (const [id, held] of [...this.held]) {
      const mine = held.holder === pid || (familyGone !== undefined && held.link === familyGone && held.holder === undefined);
      if (!mine) continue;
      this.release(id, inFlight?.conn === id ? { outcome, requestId: inFlight.requestId } : undefined);
    }
  }
}
