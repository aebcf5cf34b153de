import { describe, expect, it } from 'vitest';
import { afterRefusal, classifyChunkFailure, refusalsIn, type SentReport, settleChunk } from './refusals.ts';

const A = 'a'.repeat(32);
const B = 'b'.repeat(32);
const C = 'c'.repeat(32);

describe('afterRefusal: never the same report twice', () => {
  it.each([
    { stage: 'bounded' as const, verdict: { kind: 'resend', stage: 'minimal', reason: 'r' } },
    { stage: 'minimal' as const, verdict: { kind: 'drop', reason: 'r' } },
  ])('refused as $stage → $verdict.kind', ({ stage, verdict }) => {
    expect(afterRefusal(stage, 'r')).toEqual(verdict);
  });
});

describe('settleChunk', () => {
  const sent: SentReport[] = [
    { taskId: A, stage: 'bounded' },
    { taskId: B, stage: 'minimal' },
    { taskId: C, stage: 'bounded' },
  ];
  it.each([
    { case: 'nothing refused: all accepted', refused: [], kinds: ['accepted', 'accepted', 'accepted'] },
    {
      case: 'a bounded report refused: resent minimal, the others accepted',
      refused: [{ index: 0, taskId: A, reason: 'containers.0.reason: too big' }],
      kinds: ['resend', 'accepted', 'accepted'],
    },
    {
      case: 'a minimal report refused: dropped',
      refused: [{ index: 1, reason: 'lastStatus: invalid' }],
      kinds: ['accepted', 'drop', 'accepted'],
    },
    {
      case: 'an index outside the chunk: matched by taskId',
      refused: [{ index: 40, taskId: C, reason: 'x' }],
      kinds: ['accepted', 'accepted', 'resend'],
    },
    {
      case: 'an index outside the chunk and no taskId: ignored',
      refused: [{ index: -1, reason: 'x' }],
      kinds: ['accepted', 'accepted', 'accepted'],
    },
    {
      case: 'an unknown taskId outside the chunk: ignored',
      refused: [{ index: 9, taskId: 'f'.repeat(32), reason: 'x' }],
      kinds: ['accepted', 'accepted', 'accepted'],
    },
    {
      case: 'all refused',
      refused: [
        { index: 0, reason: 'x' },
        { index: 1, reason: 'y' },
        { index: 2, reason: 'z' },
      ],
      kinds: ['resend', 'drop', 'resend'],
    },
  ])('$case', ({ refused, kinds }) => {
    expect(settleChunk(sent, refused).map((v) => v.kind)).toEqual(kinds);
  });

  it('keeps the control plane’s reason for the log', () => {
    expect(settleChunk(sent, [{ index: 1, reason: 'lastStatus: invalid' }])[1]).toEqual({
      kind: 'drop',
      reason: 'lastStatus: invalid',
    });
  });
});

describe('refusalsIn: the answer as far as it is readable', () => {
  it.each([
    { case: 'an older control plane: no list', answer: { version: 3 }, out: [] },
    { case: 'not an object', answer: null, out: [] },
    { case: 'not a list', answer: { refused: 'no' }, out: [] },
    {
      case: 'entries without an index are skipped, a missing reason named',
      answer: { refused: [{ taskId: A, reason: 'x' }, { index: 2 }, 7] },
      out: [{ index: 2, reason: 'refused' }],
    },
    {
      case: 'a well-formed entry',
      answer: { refused: [{ index: 0, taskId: A, reason: 'r' }] },
      out: [{ index: 0, taskId: A, reason: 'r' }],
    },
  ])('$case', ({ answer, out }) => {
    expect(refusalsIn(answer)).toEqual(out);
  });
});

describe('classifyChunkFailure', () => {
  it.each([
    { case: 'no answer (connection refused, timeout)', answer: undefined, out: 'unreachable' },
    {
      case: 'an invalid parameter',
      answer: { status: 400, code: 'InvalidParameterException' },
      out: 'refused',
    },
    {
      case: 'a body it cannot read or too large',
      answer: { status: 400, code: 'ClientException' },
      out: 'refused',
    },
    { case: 'a plain 413 from a proxy', answer: { status: 413, code: 'HttpError' }, out: 'refused' },
    { case: 'a server fault', answer: { status: 500, code: 'ServerException' }, out: 'retry' },
    { case: 'a proxy with no upstream', answer: { status: 502, code: 'HttpError' }, out: 'retry' },
    { case: 'throttled', answer: { status: 429, code: 'ThrottlingException' }, out: 'retry' },
    // Not the reports' fault: dropping them would lose state the control plane may take later.
    {
      case: 'credential refused',
      answer: { status: 403, code: 'UnrecognizedClientException' },
      out: 'retry',
    },
    { case: 'another 400', answer: { status: 400, code: 'ClusterNotFoundException' }, out: 'retry' },
  ])('$case → $out', ({ answer, out }) => {
    expect(classifyChunkFailure(answer)).toBe(out);
  });
});
