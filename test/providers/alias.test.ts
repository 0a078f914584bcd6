import { describe, expect, it } from 'vitest';
import { aliasesOf, forget, promote, rollback, switchTo, toState, type AliasRecord } from '../../src/providers/alias.js';

const start: AliasRecord = { version: null, history: [] };

describe('the alias state machine every provider shares', () => {
  it('a full switch remembers the previous stable version; rollback walks back', () => {
    const one = switchTo(start, '1');
    const two = switchTo(one, '2');
    const three = promote(two, 'dev', { version: '3' });
    expect(three).toEqual({ version: '3', history: ['1', '2'] });
    expect(rollback(three, 'dev')).toEqual({ version: '2', history: ['1'] });
    expect(rollback(rollback(three, 'dev'), 'dev')).toEqual({ version: '1', history: [] });
    expect(() => rollback({ version: '1', history: [] }, 'dev')).toThrow('stage dev has no earlier version to roll back to');
    expect(switchTo(three, '3')).toEqual(three); // re-promoting the same version adds no history
  });

  it('a canary splits traffic; finish makes it stable; rollback ends it', () => {
    const stable: AliasRecord = { version: '1', history: [] };
    const canary = promote(stable, 'dev', { version: '2', weight: 10 });
    expect(canary).toEqual({ version: '1', history: [], canary: { version: '2', weight: 0.1 } });
    expect(aliasesOf(canary, 'dev', '1')).toEqual([{ name: 'dev', weight: 0.9 }]);
    expect(aliasesOf(canary, 'dev', '2')).toEqual([{ name: 'dev', weight: 0.1 }]);
    expect(aliasesOf(canary, 'dev', '3')).toEqual([]);
    expect(toState('dev', canary)).toEqual({ alias: 'dev', version: '1', canary: { version: '2', weight: 0.1 } });
    expect(promote(canary, 'dev', { finish: true })).toEqual({ version: '2', history: ['1'] });
    expect(rollback(canary, 'dev')).toEqual(stable);
    expect(() => promote(stable, 'dev', { version: '1', weight: 10 })).toThrow('already the stable version');
    expect(() => promote(stable, 'dev', { finish: true })).toThrow('no canary is running on stage dev');
    expect(promote(stable, 'dev', { version: '2', weight: 100 })).toEqual({ version: '2', history: ['1'] });
  });

  it('pruned versions leave the rollback history', () => {
    expect(forget({ version: '5', history: ['1', '3', '4'] }, ['1', '3'])).toEqual({ version: '5', history: ['4'] });
  });
});
