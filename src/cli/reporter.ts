import type { Reporter } from '../core/reporter.js';
import { isCI, type CliIO } from './io.js';
import type { Style } from './style.js';

/**
 * The CLI's Reporter: an ora spinner per step on an interactive terminal, plain lines otherwise.
 * Everything goes to stderr so stdout carries only the result.
 */
export class CliReporter implements Reporter {
  constructor(
    private readonly io: CliIO,
    private readonly style: Style,
    readonly interactive: boolean,
    private readonly debugEnabled: boolean,
  ) {}

  async step<T>(title: string, task: (progress: (detail: string) => void) => Promise<T>): Promise<T> {
    const started = Date.now();
    // A terminal that reports no width (a fresh pty) would send ora into an endless redraw.
    if (this.io.stderr.isTTY && (this.io.stderr.columns ?? 0) > 0 && !isCI(this.io.env)) {
      const { default: ora } = await import('ora');
      const spinner = ora({ text: title, stream: this.io.stderr as NodeJS.WritableStream, color: 'cyan' }).start();
      try {
        const result = await task((detail) => {
          spinner.text = `${title} ${this.style.dim(`— ${detail}`)}`;
        });
        spinner.succeed(`${title} ${this.style.dim(`(${elapsed(started)})`)}`);
        return result;
      } catch (error) {
        spinner.fail(title);
        throw error;
      }
    }
    this.io.stderr.write(`${this.style.cyan('•')} ${title}\n`);
    // Without a terminal, progress is a debug detail: CI logs stay one line a step.
    const result = await task((detail) => this.debug(`${title}: ${detail}`));
    if (this.debugEnabled) this.debug(`${title} took ${elapsed(started)}`);
    return result;
  }

  info(message: string): void {
    this.io.stderr.write(`${message}\n`);
  }

  warn(message: string): void {
    this.io.stderr.write(`${this.style.yellow('warning:')} ${message}\n`);
  }

  debug(message: string): void {
    if (this.debugEnabled) this.io.stderr.write(`${this.style.dim(`debug: ${message}`)}\n`);
  }

  async confirm(question: string, defaultValue: boolean): Promise<boolean> {
    const { confirm } = await import('@inquirer/prompts');
    return confirm({ message: question, default: defaultValue }, { output: this.io.stderr as NodeJS.WritableStream, input: this.io.stdin });
  }
}

function elapsed(since: number): string {
  const ms = Date.now() - since;
  return ms < 1000 ? `${ms}ms` : `${(ms / 1000).toFixed(1)}s`;
}
