import type { TaskStateReport } from '@bosun/model';
import { REPORT_LIMITS } from '@bosun/model/report-limits';
import type { Logger } from 'pino';
import { Backoff, REPORT_BACKOFF } from '../backoff.ts';
import { type ControlPlaneClient, ControlPlaneError } from '../control-plane-client.ts';
import { boundReport, minimalReport } from './bound.ts';
import {
  afterRefusal,
  type ChunkFailure,
  classifyChunkFailure,
  type ReportStage,
  refusalsIn,
  settleChunk,
  type Verdict,
} from './refusals.ts';

/** A task's newest report not yet taken by the control plane. Replaced (a new object) by a newer one. */
interface Pending {
  report: TaskStateReport;
  text: string;
  stage: ReportStage;
}

type ChunkOutcome = 'done' | Exclude<ChunkFailure, 'refused'>;

/**
 * The agent's reports on their way to the control plane: at-least-once, bounded, in chunks, and never
 * held up by one bad report. The rules are pure (bound.ts, refusals.ts); this is their I/O.
 *
 * - Each task's newest report waits here until the control plane took it; a report equal to the last
 *   one taken is not sent again.
 * - A flush sends all pending reports in chunks of REPORT_LIMITS.reportsPerChunk, one after another.
 *   A chunk the control plane answered badly (5xx) is retried later while the other chunks still go;
 *   no answer at all stops the flush. Either way the next flush waits a jittered back-off
 *   (backoff.ts), and while it waits a new report does not bypass it.
 * - A report refused as it was is sent once more in its minimal form; refused again, it is dropped and
 *   logged. A whole chunk refused as a bad request is split in halves until the bad report is alone.
 * - While all goes well there is no delay: a report is sent as soon as it is queued.
 */
export class ReportOutbox {
  /** The last report the control plane took (or that was dropped), per task, as JSON. */
  readonly #acked = new Map<string, string>();
  readonly #pending = new Map<string, Pending>();
  readonly #backoff: Backoff;
  #flushing = false;
  #retry: NodeJS.Timeout | undefined;
  #stopped = false;
  #dropped = 0;
  #lastError: string | undefined;

  constructor(
    private readonly client: ControlPlaneClient,
    private readonly log: Logger,
    private readonly onContact: () => void,
    private readonly chunkSize: number = REPORT_LIMITS.reportsPerChunk,
    random: () => number = Math.random,
  ) {
    this.#backoff = new Backoff(REPORT_BACKOFF, random);
  }

  /** Reports waiting to be taken. */
  get pending(): number {
    return this.#pending.size;
  }

  /** Reports dropped since the agent started, after being refused twice. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Consecutive flushes that did not get everything through (0 while all goes well). */
  get failures(): number {
    return this.#backoff.failures;
  }

  get lastError(): string | undefined {
    return this.#lastError;
  }

  /** Queues a task's state (bounded first) and sends it now, unless a back-off is running. */
  queue(report: TaskStateReport): void {
    const bounded = boundReport(report);
    const text = JSON.stringify(bounded);
    if (this.#acked.get(bounded.taskId) === text || this.#pending.get(bounded.taskId)?.text === text) return;
    this.#pending.set(bounded.taskId, { report: bounded, text, stage: 'bounded' });
    if (this.#retry === undefined) void this.flush();
  }

  /** The task is gone from this host: nothing more to compare its reports with. */
  forget(taskId: string): void {
    this.#acked.delete(taskId);
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#retry);
    this.#retry = undefined;
  }

  async flush(): Promise<void> {
    if (this.#flushing || this.#stopped || this.#pending.size === 0) return;
    this.#flushing = true;
    clearTimeout(this.#retry);
    this.#retry = undefined;
    let failed = false;
    try {
      const batch = [...this.#pending.values()];
      for (let i = 0; i < batch.length && !this.#stopped; i += this.chunkSize) {
        const outcome = await this.#send(batch.slice(i, i + this.chunkSize));
        if (outcome !== 'done') failed = true;
        // Without an answer the other chunks would wait out the same timeout: retry them all later.
        if (outcome === 'unreachable') break;
      }
    } finally {
      this.#flushing = false;
    }
    if (this.#stopped) return;
    if (failed) {
      const delay = this.#backoff.fail();
      const failures = this.#backoff.failures;
      if (failures === 1 || failures % 10 === 0) {
        this.log.warn(
          { err: this.#lastError, pending: this.#pending.size, failures, retryInMs: delay },
          'cannot report task state; will retry',
        );
      }
      this.#retry = setTimeout(() => {
        this.#retry = undefined;
        void this.flush();
      }, delay);
      return;
    }
    if (this.#backoff.failures > 0) this.log.info('task reports reach the control plane again');
    this.#backoff.reset();
    // Reports queued during this flush, and refused ones to send in their minimal form.
    if (this.#pending.size > 0) void this.flush();
  }

  /** One chunk; a chunk refused as a bad request is split until the bad report is alone. */
  async #send(items: Pending[]): Promise<ChunkOutcome> {
    const tasks = items.map((p) => (p.stage === 'minimal' ? minimalReport(p.report) : p.report));
    try {
      const answer = await this.client.report({ tasks });
      this.onContact();
      const verdicts = settleChunk(
        items.map((p) => ({ taskId: p.report.taskId, stage: p.stage })),
        refusalsIn(answer),
      );
      for (const [i, p] of items.entries()) this.#settle(p, verdicts[i] ?? { kind: 'accepted' });
      return 'done';
    } catch (e) {
      this.#lastError = (e as Error).message;
      const answered = e instanceof ControlPlaneError ? { status: e.status, code: e.code } : undefined;
      const failure = classifyChunkFailure(answered);
      if (failure !== 'refused') return failure;
      this.onContact();
      const [only] = items;
      if (items.length === 1 && only) {
        this.#settle(only, afterRefusal(only.stage, (e as Error).message));
        return 'done';
      }
      const half = Math.ceil(items.length / 2);
      const first = await this.#send(items.slice(0, half));
      if (first === 'unreachable') return first;
      const second = await this.#send(items.slice(half));
      return first === 'done' ? second : first;
    }
  }

  /** Applies a verdict, unless a newer report of the task replaced this one meanwhile. */
  #settle(sent: Pending, verdict: Verdict): void {
    const taskId = sent.report.taskId;
    const current = this.#pending.get(taskId) === sent;
    switch (verdict.kind) {
      case 'accepted':
        this.#acked.set(taskId, sent.text);
        if (current) this.#pending.delete(taskId);
        return;
      case 'resend':
        if (!current) return;
        sent.stage = verdict.stage;
        this.log.warn(
          { taskId, reason: verdict.reason, lastStatus: sent.report.lastStatus },
          'control plane refused a task report; sending it once more without its optional fields',
        );
        return;
      case 'drop':
        if (!current) return;
        this.#pending.delete(taskId);
        // As if taken: the same state is not queued again; the task's next change is reported anew.
        this.#acked.set(taskId, sent.text);
        this.#dropped++;
        this.log.error(
          { taskId, reason: verdict.reason, report: sent.text.slice(0, 2000) },
          'control plane refused a task report twice; dropped it',
        );
        return;
    }
  }
}
