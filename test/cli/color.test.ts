import { describe, expect, it } from 'vitest';
import { isCI, useColor } from '../../src/cli/io.js';
import { runCli } from '../helpers/cli.js';
import { tempDir, testPython } from '../helpers/python.js';

const ESC = '\x1b[';

describe('colour follows each stream, no-color.org and FORCE_COLOR', () => {
  it.each([
    [{ isTTY: true }, {}, false, true],
    [{ isTTY: false }, {}, false, false],
    [{ isTTY: true }, { NO_COLOR: '1' }, false, false],
    [{ isTTY: true }, { NO_COLOR: '' }, false, true], // no-color.org: set and not empty
    [{ isTTY: false }, { FORCE_COLOR: '1' }, false, true],
    [{ isTTY: true }, { FORCE_COLOR: '0' }, false, false],
    [{ isTTY: true }, { FORCE_COLOR: '1' }, true, false], // --no-color wins
  ] as const)('stream %o env %o --no-color %s → %s', (stream, env, flag, expected) => {
    expect(useColor(stream, env, flag)).toBe(expected);
  });

  it('CI=false and an empty CI are not CI; CI=true and CI=1 are', () => {
    expect([isCI({ CI: 'false' }), isCI({ CI: '' }), isCI({ CI: '0' }), isCI({}), isCI({ CI: 'true' }), isCI({ CI: '1' })]).toEqual([false, false, false, false, true, true]);
  });

  it('`mlserve doctor > out.txt` on a terminal writes no escape codes to the file, and colours stderr', async () => {
    const home = tempDir();
    const env = { HOME: home, MLSERVE_PYTHON: testPython() };
    const redirected = await runCli(['doctor', '--provider', 'aws'], { cwd: home, env, stderrTty: true });
    expect(redirected.stdout).toContain('check');
    expect(redirected.stdout).not.toContain(ESC);
    const onTerminal = await runCli(['doctor', '--provider', 'aws'], { cwd: home, env, tty: true });
    expect(onTerminal.stdout).toContain(ESC);
    const noColor = await runCli(['doctor', '--provider', 'aws'], { cwd: home, env: { ...env, NO_COLOR: '1' }, tty: true });
    expect(noColor.stdout).not.toContain(ESC);
    const failing = await runCli(['config'], { cwd: home, env, stderrTty: true });
    expect(failing.stderr).toContain(`${ESC}31merror:`);
  });
});
