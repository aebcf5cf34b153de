import { describe, expect, it } from 'vitest';
import { answerStillStands, CHECK_STANDS_MS, type LastAnswer } from './long-poll.ts';

const last: LastAnswer = {
  version: 7,
  secretHash: 'h',
  certificateFingerprint: 'c',
  mark: '1:3',
  checkedAt: 1000,
};
const poll = { after: 7, secretHash: 'h', certificateFingerprint: 'c', mark: '1:3' };

describe('answerStillStands: may a long-poll wait without reading Postgres?', () => {
  it.each([
    { case: 'right after the answer, nothing published since', last, poll, now: 1500, stands: true },
    { case: 'no earlier answer in this process', last: undefined, poll, now: 1500, stands: false },
    { case: 'a message came since the read', last, poll: { ...poll, mark: '1:4' }, now: 1500, stands: false },
    { case: 'the subscriber reconnected', last, poll: { ...poll, mark: '2:3' }, now: 1500, stands: false },
    { case: 'asks after another version', last, poll: { ...poll, after: 6 }, now: 1500, stands: false },
    {
      case: 'asks with no version (answer at once)',
      last,
      poll: { ...poll, after: undefined },
      now: 1500,
      stands: false,
    },
    { case: 'another credential', last, poll: { ...poll, secretHash: 'x' }, now: 1500, stands: false },
    {
      case: 'another client certificate',
      last,
      poll: { ...poll, certificateFingerprint: 'd' },
      now: 1500,
      stands: false,
    },
    { case: 'the check is too old', last, poll, now: 1000 + CHECK_STANDS_MS, stands: false },
  ])('$case', ({ last, poll, now, stands }) => {
    expect(answerStillStands(last, poll, now)).toBe(stands);
  });
});
