import { describe, expect, it } from 'vitest';
import { counted } from '../../../core/load/counted.js';

describe('counted', () => {
  it('says one in the singular and any other count in the plural, regular or given', () => {
    expect(counted(1, 'merchant')).toBe('1 merchant');
    expect(counted(0, 'merchant')).toBe('0 merchants');
    expect(counted(10, 'merchant')).toBe('10 merchants');
    expect(counted(1, 'community', 'communities')).toBe('1 community');
    expect(counted(3, 'community', 'communities')).toBe('3 communities');
  });
});
