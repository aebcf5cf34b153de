import { MAX_EPOCH_MS, REPORT_LIMITS, TaskStateReport } from '@bosun/model';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { boundEpochMs, boundReport, boundText, minimalReport, TRUNCATION_MARKER } from './bound.ts';

const TASK_ID = 'a'.repeat(32);
const dockerError = `CannotStartContainerError: exec: "/nonexistent/${'x'.repeat(4000)}": file name too long`;

describe('boundText', () => {
  it.each([
    { case: 'short text as is', text: 'exit 1', limit: 10, out: 'exit 1' },
    { case: 'exactly at the limit: as is', text: 'abcde', limit: 5, out: 'abcde' },
    { case: 'one over: cut, marker inside the limit', text: 'abcdef', limit: 5, out: 'abcd…' },
    { case: 'NUL removed (Postgres cannot store it)', text: 'a\u0000b', limit: 10, out: 'ab' },
    { case: 'NUL removed before measuring', text: 'ab\u0000\u0000', limit: 2, out: 'ab' },
    { case: 'a lone high surrogate replaced', text: 'a\ud83d', limit: 10, out: 'a\ufffd' },
    { case: 'a lone low surrogate replaced', text: '\ude00b', limit: 10, out: '\ufffdb' },
    { case: 'a whole pair kept', text: 'a😀', limit: 10, out: 'a😀' },
    { case: 'a pair never split by the cut', text: 'ab😀cd', limit: 4, out: 'ab…' },
    { case: 'a limit below the marker: empty', text: 'abc', limit: 0, out: '' },
  ])('$case', ({ text, limit, out }) => {
    expect(boundText(text, limit)).toBe(out);
  });

  it('cuts a 4 kB Docker error to the reason limit, keeping its start', () => {
    const cut = boundText(dockerError, REPORT_LIMITS.reason);
    expect(cut).toHaveLength(REPORT_LIMITS.reason);
    expect(cut.startsWith('CannotStartContainerError: exec: "/nonexistent/xxx')).toBe(true);
    expect(cut.endsWith(TRUNCATION_MARKER)).toBe(true);
  });

  it('never exceeds the limit, and leaves storable text (no NUL, well-formed) whatever it is given', () => {
    fc.assert(
      fc.property(tricky(80), fc.integer({ min: 0, max: 200 }), (t, limit) => {
        const out = boundText(t, limit);
        return out.length <= limit && !out.includes('\u0000') && isWellFormed(out);
      }),
    );
  });
});

describe('boundEpochMs', () => {
  it.each([
    { case: 'a normal time', ms: 1_700_000_000_000, out: 1_700_000_000_000 },
    { case: 'the epoch itself', ms: 0, out: 0 },
    { case: 'the last millisecond of year 9999', ms: MAX_EPOCH_MS, out: MAX_EPOCH_MS },
    { case: 'year 10000: left out', ms: MAX_EPOCH_MS + 1, out: undefined },
    { case: 'before 1970: left out', ms: -1, out: undefined },
    { case: 'a fraction: the whole millisecond', ms: 1000.7, out: 1000 },
    { case: 'NaN: left out', ms: Number.NaN, out: undefined },
    { case: 'Infinity: left out', ms: Number.POSITIVE_INFINITY, out: undefined },
    { case: 'absent stays absent', ms: undefined, out: undefined },
  ])('$case', ({ ms, out }) => {
    expect(boundEpochMs(ms)).toBe(out);
  });
});

describe('boundReport', () => {
  const base: TaskStateReport = {
    taskId: TASK_ID,
    lastStatus: 'STOPPED',
    stopCode: 'TaskFailedToStart',
    stoppedReason: 'Task failed to start',
    containers: [{ name: 'main', lastStatus: 'STOPPED', reason: dockerError, exitCode: 128 }],
    startedAt: 1_700_000_000_000,
    stoppedAt: MAX_EPOCH_MS + 5,
  };

  it('cuts the container reason and leaves the rest as it was', () => {
    const out = boundReport(base);
    expect(out.containers[0]?.reason).toHaveLength(REPORT_LIMITS.reason);
    expect(out.containers[0]).toMatchObject({ name: 'main', lastStatus: 'STOPPED', exitCode: 128 });
    expect(out).toMatchObject({ stopCode: 'TaskFailedToStart', stoppedReason: 'Task failed to start' });
    expect(out.startedAt).toBe(1_700_000_000_000);
    expect('stoppedAt' in out).toBe(false);
  });

  it('leaves a report within the limits exactly as it was', () => {
    const fine: TaskStateReport = {
      taskId: TASK_ID,
      lastStatus: 'RUNNING',
      healthStatus: 'HEALTHY',
      containers: [
        {
          name: 'web',
          lastStatus: 'RUNNING',
          runtimeId: 'f'.repeat(64),
          healthStatus: 'HEALTHY',
          networkBindings: [{ bindIP: '127.0.0.1', containerPort: 80, hostPort: 32768, protocol: 'tcp' }],
        },
      ],
      pullStartedAt: 1,
      pullStoppedAt: 2,
      startedAt: 3,
    };
    expect(boundReport(fine)).toEqual(fine);
  });

  it.each([
    {
      case: 'too many containers: the first ten',
      report: {
        ...base,
        containers: Array.from({ length: 12 }, (_, i) => ({ name: `c${i}`, lastStatus: 'RUNNING' as const })),
      },
      check: (r: TaskStateReport) =>
        expect(r.containers.map((c) => c.name)).toEqual(Array.from({ length: 10 }, (_, i) => `c${i}`)),
    },
    {
      case: 'a long stoppedReason is cut too',
      report: { ...base, stoppedReason: 'y'.repeat(5000) },
      check: (r: TaskStateReport) => expect(r.stoppedReason).toHaveLength(REPORT_LIMITS.reason),
    },
    {
      case: 'a binding with an impossible port is left out, the others kept',
      report: {
        ...base,
        containers: [
          {
            name: 'main',
            lastStatus: 'RUNNING' as const,
            networkBindings: [
              { bindIP: '0.0.0.0', containerPort: 80, hostPort: 70000, protocol: 'tcp' as const },
              { bindIP: '0.0.0.0', containerPort: 81, hostPort: 8081, protocol: 'tcp' as const },
            ],
          },
        ],
      },
      check: (r: TaskStateReport) =>
        expect(r.containers[0]?.networkBindings?.map((b) => b.containerPort)).toEqual([81]),
    },
    {
      case: 'a fractional exit code is left out',
      report: { ...base, containers: [{ name: 'main', lastStatus: 'STOPPED' as const, exitCode: 1.5 }] },
      check: (r: TaskStateReport) => expect(r.containers[0]?.exitCode).toBeUndefined(),
    },
  ])('$case', ({ report, check }) => {
    check(boundReport(report));
  });

  it('always gives a report the protocol schema accepts, whatever text and times the agent had', () => {
    const text = tricky(3000);
    const time = fc.oneof(fc.integer({ min: -1e15, max: 1e15 }), fc.double(), fc.constant(undefined));
    const container = fc.record({
      name: tricky(400).filter((n) => n.length > 0),
      lastStatus: fc.constantFrom('PENDING', 'RUNNING', 'STOPPED'),
      runtimeId: fc.option(text, { nil: undefined }),
      reason: fc.option(text, { nil: undefined }),
      imageDigest: fc.option(text, { nil: undefined }),
      exitCode: fc.option(fc.oneof(fc.integer(), fc.double()), { nil: undefined }),
      networkBindings: fc.option(
        fc.array(
          fc.record({
            bindIP: fc.string({ maxLength: 100 }),
            containerPort: fc.integer({ min: -5, max: 70_000 }),
            hostPort: fc.integer({ min: -5, max: 70_000 }),
            protocol: fc.constantFrom('tcp', 'udp'),
          }),
          { maxLength: 3 },
        ),
        { nil: undefined },
      ),
    });
    fc.assert(
      fc.property(
        fc.array(container, { maxLength: 14 }),
        fc.option(text, { nil: undefined }),
        time,
        time,
        (containers, stoppedReason, startedAt, stoppedAt) => {
          const report = stripUndefined({
            taskId: TASK_ID,
            lastStatus: 'STOPPED',
            containers,
            stoppedReason,
            startedAt,
            stoppedAt,
          }) as TaskStateReport;
          const out = boundReport(report);
          const parsed = TaskStateReport.safeParse(out);
          return parsed.success && storable(out);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('minimalReport', () => {
  it('keeps only what moves the task on: id, status, containers by name and status', () => {
    expect(minimalReport(boundReport(base()))).toEqual({
      taskId: TASK_ID,
      lastStatus: 'STOPPED',
      containers: [{ name: 'main', lastStatus: 'STOPPED' }],
    });
  });
  function base(): TaskStateReport {
    return {
      taskId: TASK_ID,
      lastStatus: 'STOPPED',
      stopCode: 'TaskFailedToStart',
      stoppedReason: 'why',
      healthStatus: 'UNKNOWN',
      containers: [
        {
          name: 'main',
          lastStatus: 'STOPPED',
          reason: 'x',
          exitCode: 1,
          runtimeId: 'r',
          healthStatus: 'UNKNOWN',
        },
      ],
      startedAt: 5,
      stoppedAt: 6,
    };
  }
});

/**
 * Text made of the pieces that matter here, NUL, lone and paired surrogates, the marker itself, plain
 * letters, in runs long enough to pass every limit (fast-check's own full-Unicode strings take seconds
 * to set up).
 */
function tricky(maxLength: number): fc.Arbitrary<string> {
  const piece = fc.constantFrom(
    'a',
    'b',
    ' ',
    '\u0000',
    '\ud83d',
    '\ude00',
    '😀',
    '…',
    'xxxxxxxxxxxxxxxxxxxx',
  );
  return fc.array(piece, { maxLength: Math.ceil(maxLength / 4) }).map((parts) => parts.join(''));
}

function isWellFormed(s: string): boolean {
  return !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s);
}

/** What the control plane's body check refuses (NUL, lone surrogates), anywhere in the report. */
function storable(v: unknown): boolean {
  if (typeof v === 'string') return !v.includes('\u0000') && isWellFormed(v);
  if (Array.isArray(v)) return v.every(storable);
  if (v !== null && typeof v === 'object') return Object.values(v).every(storable);
  return true;
}

function stripUndefined(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(stripUndefined);
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(
      Object.entries(v)
        .filter(([, x]) => x !== undefined)
        .map(([k, x]) => [k, stripUndefined(x)]),
    );
  }
  return v;
}
