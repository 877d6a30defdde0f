import assert from 'node:assert/strict';
import { test } from 'node:test';
import { netlinkDrops } from '../../../src/procfs/net-netlink.js';

// copied from a 6.18 kernel, the last line's socket after an exit storm
const TEXT = `sk               Eth Pid        Groups   Rmem     Wmem     Dump  Locks    Drops    Inode
00000000420c9b10 0   0          00000000 0        0        0     2        0        4       
0000000089f7ac6d 16  4170       00000000 212992   0        0     2        37       1442    
`;

test('drops of the socket named by its inode', () => {
  assert.equal(netlinkDrops(TEXT, 1442), 37);
  assert.equal(netlinkDrops(TEXT, 4), 0);
  assert.equal(netlinkDrops(TEXT, 99), undefined, 'no such socket');
  assert.equal(netlinkDrops('garbage\n1 2 3\n', 1442), undefined, 'no header');
});
